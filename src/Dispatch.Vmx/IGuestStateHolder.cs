namespace Dispatch.Vmx;

/// <summary>
/// A processor model that keeps the guest state after a VM exit instead of writing it into the VMCS at once, as a
/// processor keeps the current VMCS cached on chip (Intel SDM Vol. 3C, 25.11.1: the VMCS data in memory is not
/// guaranteed current until VMCLEAR). <see cref="Vmcs.DeferGuestStateSave"/> registers it; the VMCS asks it to write the
/// state before anything reads or writes a guest-state field, so every reader sees exactly what an eager save leaves.
/// </summary>
public interface IGuestStateHolder
{
    /// <summary>Writes the guest-state area (and what the save derives from it) into <paramref name="vmcs"/>.</summary>
    void SaveGuestState(Vmcs vmcs);
}
