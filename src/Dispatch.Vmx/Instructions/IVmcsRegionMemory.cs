namespace Dispatch.Vmx;

/// <summary>
/// What the VMX model needs from guest-physical memory: the first 32 bits of a VMXON or VMCS region (revision
/// identifier in bits 30:0, shadow-VMCS indicator in bit 31; Intel SDM Vol. 3C, 25.2 "Format of the VMCS Region")
/// and the processor's physical-address width, which bounds every VMCS pointer (31.3, VMXON/VMPTRLD/VMCLEAR).
/// The model keeps the VMCS data itself in processor-side storage, an implementation-specific format the SDM allows.
/// </summary>
public interface IVmcsRegionMemory
{
    /// <summary>MAXPHYADDR: physical-address bits above this width must be zero in a VMCS or VMXON pointer.</summary>
    int PhysicalAddressWidth { get; }

    /// <summary>Reads the 32-bit header (revision identifier and bit 31) of the region at a 4 KiB-aligned address.</summary>
    uint ReadRevisionId(ulong address);
}
