namespace Dispatch.Vmx;

/// <summary>Address size of a memory operand, bits 9:7 of the VM-exit instruction information.</summary>
public enum InstructionAddressSize : byte
{
    Bits16 = 0,
    Bits32 = 1,
    Bits64 = 2,
}

/// <summary>
/// VM-exit instruction information for VMREAD and VMWRITE, and the shared memory-operand layout of INVEPT, INVVPID,
/// INVPCID, VMCLEAR, VMPTRLD, VMPTRST, VMXON, XSAVES and XRSTORS. Intel SDM Vol. 3C, 28.2.5, Tables 28-13 and 28-14:
/// 1:0 scaling, 6:3 reg1 (register operand), 9:7 address size, 10 register (1) or memory (0) operand, 17:15 segment,
/// 21:18 index register, 22 index invalid, 26:23 base register, 27 base invalid, 31:28 reg2.
/// </summary>
public readonly record struct VmxInstructionInformation(uint Raw)
{
    /// <summary>Scale factor of the index register: 1, 2, 4 or 8.</summary>
    public int Scale => 1 << (int)(Raw & 3);
    /// <summary>Bits 6:3: the register operand of VMREAD (destination) or VMWRITE (source) when <see cref="IsRegisterOperand"/>.</summary>
    public int Register1 => (int)((Raw >> 3) & 0xF);
    public InstructionAddressSize AddressSize => (InstructionAddressSize)((Raw >> 7) & 7);
    /// <summary>Bit 10: the operand is a register rather than memory.</summary>
    public bool IsRegisterOperand => (Raw & (1u << 10)) != 0;
    /// <summary>Bits 17:15: 0 ES, 1 CS, 2 SS, 3 DS, 4 FS, 5 GS.</summary>
    public int Segment => (int)((Raw >> 15) & 7);
    public int IndexRegister => (int)((Raw >> 18) & 0xF);
    public bool IndexValid => (Raw & (1u << 22)) == 0;
    public int BaseRegister => (int)((Raw >> 23) & 0xF);
    public bool BaseValid => (Raw & (1u << 27)) == 0;
    /// <summary>Bits 31:28: the register holding the field encoding (VMREAD/VMWRITE) or the type (INVEPT/INVVPID/INVPCID).</summary>
    public int Register2 => (int)(Raw >> 28);

    /// <summary>A register-operand form, e.g. <c>VMREAD reg1, reg2</c>.</summary>
    public static VmxInstructionInformation ForRegisters(int register1, int register2, InstructionAddressSize addressSize = InstructionAddressSize.Bits64) =>
        new(((uint)(register1 & 0xF) << 3) | ((uint)addressSize << 7) | (1u << 10) | ((uint)(register2 & 0xF) << 28));

    /// <summary>A memory-operand form; pass -1 for an absent base or index register.</summary>
    public static VmxInstructionInformation ForMemory(int segment, int baseRegister, int indexRegister, int scale, int register2,
        InstructionAddressSize addressSize = InstructionAddressSize.Bits64)
    {
        uint scaling = scale switch { 1 => 0u, 2 => 1u, 4 => 2u, 8 => 3u, _ => throw new ArgumentOutOfRangeException(nameof(scale)) };
        uint raw = scaling | ((uint)addressSize << 7) | ((uint)(segment & 7) << 15) | ((uint)(register2 & 0xF) << 28);
        raw |= indexRegister < 0 ? 1u << 22 : (uint)(indexRegister & 0xF) << 18;
        raw |= baseRegister < 0 ? 1u << 27 : (uint)(baseRegister & 0xF) << 23;
        return new VmxInstructionInformation(raw);
    }
}
