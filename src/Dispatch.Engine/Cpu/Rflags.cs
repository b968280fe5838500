namespace Dispatch;

/// <summary>RFLAGS bits (Intel SDM Vol. 1, 3.4.3).</summary>
public static class Rflags
{
    public const ulong CF = 1 << 0;
    public const ulong Reserved1 = 1 << 1;
    public const ulong PF = 1 << 2;
    public const ulong AF = 1 << 4;
    public const ulong ZF = 1 << 6;
    public const ulong SF = 1 << 7;
    public const ulong TF = 1 << 8;
    public const ulong IF = 1 << 9;
    public const ulong DF = 1 << 10;
    public const ulong OF = 1 << 11;
    public const ulong IOPL = 3 << 12;
    public const ulong NT = 1 << 14;
    public const ulong RF = 1 << 16;
    public const ulong VM = 1 << 17;
    public const ulong AC = 1 << 18;
    public const ulong VIF = 1 << 19;
    public const ulong VIP = 1 << 20;
    public const ulong ID = 1 << 21;

    /// <summary>The six arithmetic status flags.</summary>
    public const ulong Status = CF | PF | AF | ZF | SF | OF;

    /// <summary>Bits software can change (everything else is reserved and reads as 0, bit 1 as 1).</summary>
    public const ulong Writable = Status | TF | IF | DF | IOPL | NT | RF | VM | AC | VIF | VIP | ID;
}
