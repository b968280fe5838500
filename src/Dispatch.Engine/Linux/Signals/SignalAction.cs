using System.Buffers.Binary;

namespace Dispatch.Linux.Signals;

/// <summary>A disposition as rt_sigaction passes it (struct kernel_sigaction on x86-64: handler, flags, restorer, mask).</summary>
internal readonly record struct SignalAction(ulong Handler, ulong Flags, ulong Restorer, ulong Mask)
{
    public const int Size = 32;

    public bool HasHandler => Handler is not (Signal.Default or Signal.Ignore);

    public static SignalAction Read(ReadOnlySpan<byte> b) => new(
        BinaryPrimitives.ReadUInt64LittleEndian(b),
        BinaryPrimitives.ReadUInt64LittleEndian(b[8..]),
        BinaryPrimitives.ReadUInt64LittleEndian(b[16..]),
        BinaryPrimitives.ReadUInt64LittleEndian(b[24..]));

    public void Write(Span<byte> b)
    {
        BinaryPrimitives.WriteUInt64LittleEndian(b, Handler);
        BinaryPrimitives.WriteUInt64LittleEndian(b[8..], Flags);
        BinaryPrimitives.WriteUInt64LittleEndian(b[16..], Restorer);
        BinaryPrimitives.WriteUInt64LittleEndian(b[24..], Mask);
    }
}

/// <summary>What siginfo tells a handler: the signal, its code, and the fault address or the sender.</summary>
internal readonly record struct SignalInfo(int Number, int Code, ulong Address = 0, int SenderPid = 0, uint SenderUid = 0);
