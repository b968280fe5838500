using System.Runtime.Intrinsics;
using static Iced.Intel.AssemblerRegisters;

namespace Dispatch.Engine.Tests.FloatingPoint;

/// <summary>
/// A zeroing idiom (PXOR XMM2, XMM2) does not read its destination, but other instances of the same encoding form do: the
/// per-form operand traits must not be learned from the idiom.
/// </summary>
public sealed class ZeroingIdiomTests
{
    [Fact]
    public void PxorWithMemory_ReadsItsDestination_AfterTheZeroingIdiomRan()
    {
        if (!Execution.Simd.HostStubs.IsSupported) return;
        const ulong data = 0x20_0000;
        var (vm, vcpu) = TestGuest.Create(a =>
        {
            a.mov(rax, data);
            a.mov(rcx, 0x0123_4567_89AB_CDEF);
            a.mov(__qword_ptr[rax], rcx);
            a.mov(__qword_ptr[rax + 8], rcx);
            a.pxor(xmm2, xmm2);              // the idiom first: the form's traits are learned here if nowhere before
            a.pcmpeqb(xmm1, xmm1);           // all ones
            a.pxor(xmm1, __xmmword_ptr[rax]); // ~data
            a.hlt();
        });
        using (vm)
        {
            var handler = new RecordingHandler();
            var result = vcpu.Run(ref handler);
            Assert.Equal(RunOutcome.Stopped, result.Outcome);
            var xmm1 = Vector128.AsUInt64(vcpu.Processor.Xmm[1]);
            Assert.Equal(~0x0123_4567_89AB_CDEFUL, xmm1[0]);
            Assert.Equal(~0x0123_4567_89AB_CDEFUL, xmm1[1]);
            Assert.Equal(Vector128<byte>.Zero, vcpu.Processor.Xmm[2]);
        }
    }
}
