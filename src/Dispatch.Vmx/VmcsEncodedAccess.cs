using System.Runtime.CompilerServices;

namespace Dispatch.Vmx;

public sealed partial class Vmcs
{
    /// <summary>The launch state of this VMCS; it belongs to the VMCS, not to the processor (SDM Vol. 3C, 25.1).</summary>
    public VmcsLaunchState LaunchState { get; internal set; }

    /// <summary>Whether an encoding (as a VMREAD/VMWRITE register operand gives it) names a component this model stores.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static bool IsSupported(ulong encoding) => encoding <= uint.MaxValue && VmcsLayout.SlotOf((uint)encoding) >= 0;

    /// <summary>
    /// Reads by raw encoding without throwing: false when the encoding names no supported component (the VMREAD path,
    /// which reports that as VM-instruction error 12 instead of an exception). Allocates nothing.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public bool TryRead(ulong encoding, out ulong value)
    {
        if (!IsSupported(encoding)) { value = 0; return false; }
        value = Read((VmcsField)(uint)encoding);
        return true;
    }

    /// <summary>Writes by raw encoding without throwing and without the read-only rule (the processor's own access).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public bool TryWrite(ulong encoding, ulong value)
    {
        if (!IsSupported(encoding)) return false;
        Write((VmcsField)(uint)encoding, value);
        return true;
    }
}
