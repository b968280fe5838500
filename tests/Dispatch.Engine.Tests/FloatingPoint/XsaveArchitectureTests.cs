using Dispatch.Guests;
using Dispatch.Memory;
using Dispatch.Vmx;
using Iced.Intel;
using static Iced.Intel.AssemblerRegisters;

namespace Dispatch.Engine.Tests.FloatingPoint;

/// <summary>
/// The XSAVE feature set for the x87 and SSE components, rule by rule (Intel SDM Vol. 1, chapter 13; Vol. 2 XSAVE,
/// XSAVEOPT, XSAVEC, XRSTOR, XGETBV, XSETBV; Vol. 2A CPUID leaf 0DH).
/// </summary>
public sealed class XsaveArchitectureTests
{
    private const ulong Area = 0x20_0000, Second = 0x20_1000, Third = 0x20_2000;
    private const ulong Osxsave = 1UL << 18;
    private const byte Sentinel = 0xCC;

    private static (VCpu VCpu, XsetbvHandler Handler, VirtualMachine Vm) Run(Action<Assembler> program,
        Action<VirtualMachine>? setup = null, LongModeGuestOptions? options = null, Func<Assembler, Label>? gpHandler = null)
    {
        Label gp = default;
        var (vm, vcpu) = TestGuest.Create(a =>
        {
            program(a);
            a.hlt();
            if (gpHandler is not null) gp = gpHandler(a);
        }, out var assembled, options);
        if (gpHandler is not null)
        {
            // The guest handles #GP itself (an injected event is delivered through the guest's IDT).
            LongModeGuest.SetInterruptGate(vm, Vmx.ExceptionVector.GeneralProtection, assembled.GetLabelRIP(gp));
            vcpu.Vmcs.Write(VmcsField.ExceptionBitmap, ~(1u << Vmx.ExceptionVector.GeneralProtection));
        }
        setup?.Invoke(vm);
        var handler = new XsetbvHandler();
        vcpu.Run(ref handler);
        return (vcpu, handler, vm);
    }

    /// <summary>Sets CR4.OSXSAVE and, when <paramref name="xcr0"/> is not 1, XCR0 (through XSETBV's exit).</summary>
    private static void EnableXsave(Assembler a, uint xcr0 = 3)
    {
        a.mov(rax, cr4);
        a.or(rax, (int)Osxsave);
        a.mov(cr4, rax);
        if (xcr0 == 1) return;
        a.xor(ecx, ecx);
        a.xor(edx, edx);
        a.mov(eax, xcr0);
        a.xsetbv();
    }

    private static void Mask(Assembler a, uint rfbm)
    {
        a.mov(eax, rfbm);
        a.xor(edx, edx);
    }

    private static void AssertHalted(XsetbvHandler h) =>
        Assert.True(h.Reasons[^1] == ExitReason.Hlt, $"stopped by {h.Reasons[^1]} (vector {h.ExceptionVector})");

    private static byte[] ReadArea(VirtualMachine vm, ulong address, int length = 640)
    {
        var bytes = new byte[length];
        vm.Memory.Read(new GuestPhysicalAddress(address), bytes);
        return bytes;
    }

    private static void FillSentinel(VirtualMachine vm, ulong address) =>
        vm.Memory.Write(new GuestPhysicalAddress(address), Enumerable.Repeat(Sentinel, 640).ToArray());

    private static void AssertUntouched(byte[] area, int start, int end)
    {
        for (int i = start; i < end; i++) Assert.True(area[i] == Sentinel, $"byte {i} written");
    }

    /// <summary>x87 (1.0 and pi on the stack), XMM5 and XMM12 non-zero, MXCSR with rounding up.</summary>
    private static void LoadDistinctState(Assembler a)
    {
        a.fldpi();
        a.fld1();
        a.mov(rax, 0x1122334455667788UL);
        a.movq(xmm5, rax);
        a.movq(xmm12, rax);
        a.pshufd(xmm12, xmm12, 0x1B);
        a.mov(rbx, Third + 0x800);
        a.mov(__dword_ptr[rbx], 0x5F80);
        a.ldmxcsr(__dword_ptr[rbx]);
    }

    [Fact]
    public void Cpuid_ReportsXsaveForExactlyX87AndSse()
    {
        var model = CpuidModel.Default;
        Assert.Equal(0xDu, model.Query(0).Eax);
        Assert.Equal(1u << 26, model.Query(1).Ecx & (3u << 26));                 // XSAVE, not OSXSAVE at reset
        Assert.Equal(3u << 26, model.Query(1, 0, Osxsave).Ecx & (3u << 26));      // OSXSAVE copies CR4.OSXSAVE
        Assert.Equal(new CpuidResult(3, 576, 576, 0), model.Query(0xD, 0));
        // XSAVEOPT, XSAVEC, XGETBV with ECX = 1; no XSAVES (bit 3) and no IA32_XSS bits.
        Assert.Equal(new CpuidResult(7, 576, 0, 0), model.Query(0xD, 1));
        for (uint subleaf = 2; subleaf < 64; subleaf++) Assert.Equal(default, model.Query(0xD, subleaf));
        Assert.Equal(0u, model.Query(1).Ecx & (1u << 28));                       // no AVX
    }

    [Fact]
    public void Cr4Osxsave_IsAllowedByMovToCr4AndByTheVmxFixedBits_ExactlyWhenXsaveIsReported()
    {
        bool reported = (CpuidModel.Default.Query(1).Ecx & (1u << 26)) != 0;
        var (vcpu, h, vm) = Run(a =>
        {
            EnableXsave(a, xcr0: 1);
            a.mov(rax, cr4);
            a.mov(r8, rax);
        });
        using (vm)
        {
            Assert.Equal(reported, (vm.Capabilities.Cr4Fixed1 & Osxsave) != 0);
            Assert.Equal(reported, (vcpu.Registers.R8 & Osxsave) != 0);
            if (reported) AssertHalted(h);
            else Assert.Equal(13, h.ExceptionVector);
        }
    }

    [Fact]
    public void Cpuid_OsxsaveFollowsTheGuestsCr4()
    {
        var (vcpu, h, vm) = Run(a =>
        {
            a.mov(eax, 1);
            a.cpuid();
            a.mov(r8, rcx);
            EnableXsave(a, xcr0: 1);
            a.mov(eax, 1);
            a.cpuid();
            a.mov(r9, rcx);
        });
        using (vm)
        {
            AssertHalted(h);
            Assert.Equal(0UL, vcpu.Registers.R8 & (1UL << 27));
            Assert.Equal(1UL << 27, vcpu.Registers.R9 & (1UL << 27));
        }
    }

    public static TheoryData<string> NeedOsxsave => ["xgetbv", "xsetbv", "xsave", "xsavec", "xsaveopt", "xrstor"];

    [Theory]
    [MemberData(nameof(NeedOsxsave))]
    public void WithoutOsxsave_IsInvalidOpcode(string instruction)
    {
        var (_, h, vm) = Run(a =>
        {
            a.mov(rsi, Area);
            a.xor(ecx, ecx);
            Mask(a, 3);
            Emit(a, instruction, __[rsi]);
        });
        using (vm) Assert.Equal(6, h.ExceptionVector);
    }

    private static void Emit(Assembler a, string instruction, AssemblerMemoryOperand m)
    {
        switch (instruction)
        {
            case "xgetbv": a.xgetbv(); break;
            case "xsetbv": a.xsetbv(); break;
            case "xsave": a.xsave64(m); break;
            case "xsavec": a.xsavec64(m); break;
            case "xsaveopt": a.xsaveopt64(m); break;
            default: a.xrstor64(m); break;
        }
    }

    [Theory]
    [InlineData("xsave")]
    [InlineData("xsavec")]
    [InlineData("xsaveopt")]
    [InlineData("xrstor")]
    public void MisalignedArea_IsGeneralProtection(string instruction)
    {
        var (_, h, vm) = Run(a =>
        {
            EnableXsave(a);
            a.mov(rsi, Area + 32);   // 16-byte aligned (enough for FXSAVE), not 64-byte aligned
            Mask(a, 3);
            Emit(a, instruction, __[rsi]);
        });
        using (vm) Assert.Equal(13, h.ExceptionVector);
    }

    [Theory]
    [InlineData("xsave")]
    [InlineData("xrstor")]
    public void TaskSwitched_IsDeviceNotAvailable_EmulationIsNotChecked(string instruction)
    {
        var (_, h1, vm1) = Run(a =>
        {
            EnableXsave(a);
            a.mov(rax, cr0);
            a.or(rax, 8);        // TS
            a.mov(cr0, rax);
            a.mov(rsi, Area);
            Mask(a, 3);
            Emit(a, instruction, __[rsi]);
        });
        using (vm1) Assert.Equal(7, h1.ExceptionVector);
        var (_, h2, vm2) = Run(a =>
        {
            EnableXsave(a);
            a.mov(rax, cr0);
            a.or(rax, 4);        // EM: XSAVE and XRSTOR run regardless
            a.mov(cr0, rax);
            a.mov(rsi, Area);
            Mask(a, 3);
            Emit(a, instruction, __[rsi]);
        }, vm => vm.Memory.Write(new GuestPhysicalAddress(Area + 24), 0x1F80u));
        using (vm2) AssertHalted(h2);
    }

    [Fact]
    public void Xgetbv_ReadsXcr0_AndXinuseForEcx1()
    {
        var (vcpu, h, vm) = Run(a =>
        {
            EnableXsave(a, xcr0: 1);
            a.xor(ecx, ecx);
            a.xgetbv();
            a.mov(r8, rax);          // XCR0 at reset: 1
            EnableXsave(a, xcr0: 3);
            a.mov(ecx, 1);
            a.xgetbv();
            a.mov(r9, rax);          // XINUSE: nothing used yet
            a.fld1();
            a.mov(ecx, 1);
            a.xgetbv();
            a.mov(r10, rax);         // x87 in use
            a.mov(eax, 1);
            a.movd(xmm3, eax);
            a.mov(ecx, 1);
            a.xgetbv();
            a.mov(r11, rax);         // and SSE
            a.xor(ecx, ecx);
            a.xgetbv();
            a.mov(r12, rax);
            a.mov(ecx, 2);
            a.xgetbv();              // no XCR2: #GP(0)
        });
        using (vm)
        {
            Assert.Equal(13, h.ExceptionVector);
            Assert.Equal(1UL, vcpu.Registers.R8);
            Assert.Equal(0UL, vcpu.Registers.R9);
            Assert.Equal(1UL, vcpu.Registers.R10);
            Assert.Equal(3UL, vcpu.Registers.R11);
            Assert.Equal(3UL, vcpu.Registers.R12);
            Assert.Equal(3UL, vcpu.Xcr0);
        }
    }

    [Fact]
    public void Xsetbv_AlwaysExits_AndTheHandlerAppliesAValidValue()
    {
        var (vcpu, h, vm) = Run(a => EnableXsave(a, xcr0: 3));
        using (vm)
        {
            AssertHalted(h);
            Assert.Contains(ExitReason.Xsetbv, h.Reasons);
            Assert.Equal(3UL, vcpu.Xcr0);
        }
    }

    [Theory]
    [InlineData(0u, 0x0UL)]                  // bit 0 (x87) must be 1
    [InlineData(0u, 0x2UL)]
    [InlineData(0u, 0x5UL)]                  // AVX without SSE
    [InlineData(0u, 0x7UL)]                  // AVX: not supported
    [InlineData(0u, 0x8000_0000_0000_0003UL)]
    [InlineData(1u, 0x3UL)]                  // XCR1 cannot be written
    public void Xsetbv_InvalidValue_HandlerInjectsGeneralProtection(uint xcr, ulong value)
    {
        var (vcpu, h, vm) = Run(a =>
        {
            EnableXsave(a, xcr0: 1);
            a.mov(ecx, xcr);
            a.mov(eax, (uint)value);
            a.mov(edx, (uint)(value >> 32));
            a.xsetbv();
        }, gpHandler: a =>
        {
            var label = a.CreateLabel();
            a.Label(ref label);
            a.mov(r12, 0xBAD);
            a.hlt();
            return label;
        });
        using (vm)
        {
            AssertHalted(h);
            Assert.Contains(ExitReason.Xsetbv, h.Reasons);
            Assert.Equal(0xBADUL, vcpu.Registers.R12);
            Assert.Equal(1UL, vcpu.Xcr0);
        }
    }

    [Fact]
    public void TrySetXcr_Rules()
    {
        var (vm, vcpu) = TestGuest.Create(a => a.hlt());
        using (vm)
        {
            Assert.True(vcpu.TrySetXcr0(3));
            Assert.Equal(3UL, vcpu.Xcr0);
            Assert.False(vcpu.TrySetXcr0(2));
            Assert.False(vcpu.TrySetXcr0(0));
            Assert.False(vcpu.TrySetXcr0(7));
            Assert.False(vcpu.TrySetXcr(1, 1));
            Assert.Equal(3UL, vcpu.Xcr0);
            Assert.True(vcpu.TrySetXcr0(1));
            Assert.Equal(1UL, vcpu.Xcr0);
        }
    }

    [Fact]
    public void Xsetbv_AtCpl3_IsGeneralProtectionBeforeAnyExit()
    {
        var options = new LongModeGuestOptions { Cpl = 3 };
        var (vm, vcpu) = TestGuest.Create(a =>
        {
            a.xor(ecx, ecx);
            a.mov(eax, 3);
            a.xor(edx, edx);
            a.xsetbv();
            a.hlt();
        }, options);
        using (vm)
        {
            vcpu.Vmcs.Write(VmcsField.GuestCr4, vcpu.Vmcs.Read(VmcsField.GuestCr4) | Osxsave);
            var h = new XsetbvHandler();
            vcpu.Run(ref h);
            Assert.Equal(13, h.ExceptionVector);
            Assert.DoesNotContain(ExitReason.Xsetbv, h.Reasons);
            Assert.Equal(1UL, vcpu.Xcr0);
        }
    }

    [Fact]
    public void Xsave_WritesOnlyRequestedComponents_AndUpdatesOnlyRequestedXstateBvBits()
    {
        var (_, h, vm) = Run(a =>
        {
            EnableXsave(a);
            LoadDistinctState(a);
            a.mov(rsi, Area);
            Mask(a, 1);              // x87 only: no MXCSR, no XMM
            a.xsave64(__[rsi]);
            a.mov(rsi, Second);
            Mask(a, 2);              // SSE only: MXCSR and XMM, no x87
            a.xsave64(__[rsi]);
        }, vm =>
        {
            FillSentinel(vm, Area);
            FillSentinel(vm, Second);
            // An old XSTATE_BV with a bit outside RFBM (and outside XCR0): XSAVE keeps it.
            vm.Memory.Write(new GuestPhysicalAddress(Area + 512), 0x4UL | 0x2UL);
            vm.Memory.Write(new GuestPhysicalAddress(Second + 512), 0x4UL | 0x1UL);
        });
        using (vm)
        {
            AssertHalted(h);
            var x87 = ReadArea(vm, Area);
            Assert.Equal((ushort)0x37F, BitConverter.ToUInt16(x87, 0));
            Assert.Equal((ushort)(6 << 11), BitConverter.ToUInt16(x87, 2));   // TOP = 6
            Assert.Equal((byte)0xC0, x87[4]);                                 // R6, R7 valid
            Assert.Equal(0x8000000000000000UL, BitConverter.ToUInt64(x87, 32)); // ST0 = 1.0
            AssertUntouched(x87, 24, 32);                                     // MXCSR goes with SSE
            AssertUntouched(x87, 160, 512);
            Assert.Equal(0x4UL | 0x2UL | 0x1UL, BitConverter.ToUInt64(x87, 512));
            AssertUntouched(x87, 520, 640);

            var sse = ReadArea(vm, Second);
            AssertUntouched(sse, 0, 24);
            Assert.Equal(0x5F80u, BitConverter.ToUInt32(sse, 24));
            Assert.Equal(0xFFFFu, BitConverter.ToUInt32(sse, 28));            // MXCSR_MASK
            AssertUntouched(sse, 32, 160);
            Assert.Equal(0x1122334455667788UL, BitConverter.ToUInt64(sse, 160 + 5 * 16));
            Assert.Equal(0x5566778811223344UL, BitConverter.ToUInt64(sse, 160 + 12 * 16 + 8));
            AssertUntouched(sse, 416, 512);
            Assert.Equal(0x4UL | 0x2UL | 0x1UL, BitConverter.ToUInt64(sse, 512));
        }
    }

    [Theory]
    [InlineData("xsave")]
    [InlineData("xsaveopt")]
    [InlineData("xsavec")]
    public void SaveModifyRestore_RoundTripsTheWholeState(string save)
    {
        var (_, h, vm) = Run(a =>
        {
            EnableXsave(a);
            LoadDistinctState(a);
            a.mov(rsi, Second);
            a.fxsave64(__[rsi]);     // the reference image
            a.mov(rsi, Area);
            Mask(a, 3);
            Emit(a, save, __[rsi]);
            // Change every part of both components.
            a.fninit();
            a.fldz();
            a.pxor(xmm5, xmm5);
            a.pcmpeqb(xmm12, xmm12);
            a.mov(rbx, Third + 0x800);
            a.mov(__dword_ptr[rbx], 0x1F80);
            a.ldmxcsr(__dword_ptr[rbx]);
            Mask(a, 3);
            a.xrstor64(__[rsi]);
            a.mov(rsi, Third);
            a.fxsave64(__[rsi]);
        }, vm => vm.Memory.Write(new GuestPhysicalAddress(Area), new byte[640])); // a zero header: XRSTOR checks it
        using (vm)
        {
            AssertHalted(h);
            Assert.Equal(ReadArea(vm, Second, 416), ReadArea(vm, Third, 416));
        }
    }

    [Fact]
    public void Xsavec_WritesTheCompactedHeader_AndSkipsComponentsInTheirInitialConfiguration()
    {
        var (vcpu, h, vm) = Run(a =>
        {
            EnableXsave(a);
            a.mov(eax, 0x42);
            a.movd(xmm1, eax);       // SSE in use; x87 untouched since reset: initial configuration
            a.mov(rsi, Area);
            Mask(a, 3);
            a.xsavec64(__[rsi]);
            a.fld1();                // now change both
            a.pxor(xmm1, xmm1);
            Mask(a, 3);
            a.xrstor64(__[rsi]);     // compacted form: x87 initialised, SSE loaded
        }, vm =>
        {
            FillSentinel(vm, Area);
            // Header bytes 63:16 must be zero for the compacted XRSTOR; XSAVEC does not write them.
            vm.Memory.Write(new GuestPhysicalAddress(Area + 528), new byte[48]);
        });
        using (vm)
        {
            AssertHalted(h);
            var area = ReadArea(vm, Area);
            AssertUntouched(area, 0, 24);
            AssertUntouched(area, 32, 160);
            Assert.Equal(0x1F80u, BitConverter.ToUInt32(area, 24));
            Assert.Equal(0x42u, BitConverter.ToUInt32(area, 160 + 16));
            AssertUntouched(area, 416, 512);
            Assert.Equal(0x2UL, BitConverter.ToUInt64(area, 512));                    // XSTATE_BV = RFBM AND XINUSE
            Assert.Equal(0x8000_0000_0000_0003UL, BitConverter.ToUInt64(area, 520));  // XCOMP_BV = bit 63 | RFBM
            Assert.True(area.AsSpan(528, 48).IndexOfAnyExcept((byte)0) < 0);        // rest of the header untouched
            AssertUntouched(area, 576, 640);
            Assert.Equal(0x42u, System.Runtime.Intrinsics.Vector128.AsUInt32(vcpu.Processor.Xmm[1])[0]);
            Assert.Equal(0xFFFF, vcpu.Processor.FpuTagWord);                          // x87 back in its initial configuration
            Assert.Equal(0, vcpu.Processor.FpuStatusWord);
        }
    }

    [Fact]
    public void Xsaveopt_SkipsComponentsInTheirInitialConfiguration_ButAlwaysWritesMxcsr()
    {
        var (_, h, vm) = Run(a =>
        {
            EnableXsave(a);
            a.mov(rsi, Area);
            Mask(a, 3);
            a.xsaveopt64(__[rsi]);
        }, vm =>
        {
            FillSentinel(vm, Area);
            vm.Memory.Write(new GuestPhysicalAddress(Area + 512), 0x3UL);
        });
        using (vm)
        {
            AssertHalted(h);
            var area = ReadArea(vm, Area);
            AssertUntouched(area, 0, 24);
            AssertUntouched(area, 32, 160);
            AssertUntouched(area, 160, 416);
            Assert.Equal(0x1F80u, BitConverter.ToUInt32(area, 24));
            Assert.Equal(0x0UL, BitConverter.ToUInt64(area, 512));   // both requested components recorded as initial
            AssertUntouched(area, 520, 640);
        }
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void Xrstor_InitialisesComponentsAbsentFromXstateBv(bool compacted)
    {
        var (vcpu, h, vm) = Run(a =>
        {
            EnableXsave(a);
            LoadDistinctState(a);
            a.mov(rsi, Area);
            Mask(a, 3);
            a.xrstor64(__[rsi]);
        }, vm =>
        {
            vm.Memory.Write(new GuestPhysicalAddress(Area), new byte[640]);
            vm.Memory.Write(new GuestPhysicalAddress(Area + 24), 0x3F80u);   // MXCSR in the legacy region
            vm.Memory.Write(new GuestPhysicalAddress(Area + 160), 0x1234UL);  // XMM0, ignored: XSTATE_BV[1] = 0
            vm.Memory.Write(new GuestPhysicalAddress(Area + 520), compacted ? 0x8000_0000_0000_0003UL : 0UL);
        });
        using (vm)
        {
            AssertHalted(h);
            var p = vcpu.Processor;
            Assert.Equal(0x37F, p.FpuControlWord);
            Assert.Equal(0, p.FpuStatusWord);
            Assert.Equal(0xFFFF, p.FpuTagWord);
            for (int i = 0; i < 8; i++) Assert.Equal(0UL, p.FpuRegisters[i].Significand);
            for (int i = 0; i < 16; i++) Assert.Equal(default, p.Xmm[i]);
            // The standard form loads MXCSR whenever RFBM[1] = 1; the compacted form initialises it with the component.
            Assert.Equal(compacted ? 0x1F80u : 0x3F80u, p.Mxcsr);
        }
    }

    [Fact]
    public void Xrstor_LeavesComponentsOutsideRfbmAlone()
    {
        var (vcpu, h, vm) = Run(a =>
        {
            EnableXsave(a);
            LoadDistinctState(a);
            a.mov(rsi, Area);
            Mask(a, 1);              // x87 only, although XSTATE_BV has both
            a.xrstor64(__[rsi]);
        }, vm =>
        {
            vm.Memory.Write(new GuestPhysicalAddress(Area), new byte[640]);
            vm.Memory.Write(new GuestPhysicalAddress(Area), (ushort)0x27F);
            vm.Memory.Write(new GuestPhysicalAddress(Area + 24), 0x3F80u);
            vm.Memory.Write(new GuestPhysicalAddress(Area + 512), 3UL);
        });
        using (vm)
        {
            AssertHalted(h);
            var p = vcpu.Processor;
            Assert.Equal(0x27F, p.FpuControlWord);
            Assert.Equal(0xFFFF, p.FpuTagWord);      // abridged tag 0: all empty
            Assert.Equal(0x5F80u, p.Mxcsr);
            Assert.Equal(0x1122334455667788UL, System.Runtime.Intrinsics.Vector128.AsUInt64(p.Xmm[5])[0]);
        }
    }

    /// <summary>Header and MXCSR checks of XRSTOR (Vol. 2, XRSTOR, #GP(0) conditions).</summary>
    [Theory]
    [InlineData(0x3UL, 0x0UL, -1, 0x1F80u, 3u, false)]
    [InlineData(0x4UL, 0x0UL, -1, 0x1F80u, 3u, true)]                         // XSTATE_BV outside XCR0
    [InlineData(0x1UL, 0x1UL, -1, 0x1F80u, 3u, true)]                         // standard form: XCOMP_BV must be 0
    [InlineData(0x1UL, 0x0UL, 16, 0x1F80u, 3u, true)]                         // standard form: bytes 23:8 zero
    [InlineData(0x1UL, 0x0UL, 24, 0x1F80u, 3u, false)]                        // bytes 63:24 not checked in standard form
    [InlineData(0x3UL, 0x8000_0000_0000_0003UL, -1, 0x1F80u, 3u, false)]
    [InlineData(0x1UL, 0x8000_0000_0000_0005UL, -1, 0x1F80u, 3u, true)]      // XCOMP_BV outside XCR0
    [InlineData(0x2UL, 0x8000_0000_0000_0001UL, -1, 0x1F80u, 3u, true)]      // XSTATE_BV outside XCOMP_BV
    [InlineData(0x1UL, 0x8000_0000_0000_0001UL, 24, 0x1F80u, 3u, true)]      // compacted form: bytes 63:16 zero
    [InlineData(0x0UL, 0x0UL, -1, 0x1_0000u, 3u, true)]                      // MXCSR reserved bit, loaded (RFBM[1])
    [InlineData(0x0UL, 0x0UL, -1, 0x1_0000u, 1u, false)]                     // not loaded without RFBM[1]
    [InlineData(0x0UL, 0x8000_0000_0000_0003UL, -1, 0x1_0000u, 3u, false)]  // compacted, XSTATE_BV[1] = 0: not loaded
    public void Xrstor_HeaderAndMxcsrRules(ulong xstateBv, ulong xcompBv, int nonZeroHeaderByte, uint mxcsr, uint rfbm, bool faults)
    {
        var (_, h, vm) = Run(a =>
        {
            EnableXsave(a);
            a.mov(rsi, Area);
            Mask(a, rfbm);
            a.xrstor64(__[rsi]);
        }, vm =>
        {
            vm.Memory.Write(new GuestPhysicalAddress(Area), new byte[640]);
            vm.Memory.Write(new GuestPhysicalAddress(Area + 24), mxcsr);
            vm.Memory.Write(new GuestPhysicalAddress(Area + 512), xstateBv);
            vm.Memory.Write(new GuestPhysicalAddress(Area + 520), xcompBv);
            if (nonZeroHeaderByte >= 0) vm.Memory.Write(new GuestPhysicalAddress(Area + 512 + (ulong)nonZeroHeaderByte), (byte)1);
        });
        using (vm)
        {
            if (faults) Assert.Equal(13, h.ExceptionVector);
            else AssertHalted(h);
        }
    }

    [Fact]
    public void Xsave_AtCpl3_UsesTheUserModePathAndXcr0()
    {
        var options = new LongModeGuestOptions { Cpl = 3 };
        var (vm, vcpu) = TestGuest.Create(a =>
        {
            a.mov(rsi, Area);
            a.mov(eax, -1);
            a.mov(edx, -1);          // RFBM = XCR0 = 1: the x87 component only
            a.xsave64(__[rsi]);      // the standard form saves the x87 state even in its initial configuration
            a.hlt();
        }, options);
        using (vm)
        {
            FillSentinel(vm, Area);
            vcpu.Vmcs.Write(VmcsField.GuestCr4, vcpu.Vmcs.Read(VmcsField.GuestCr4) | Osxsave);
            var h = new XsetbvHandler();
            vcpu.Run(ref h);
            // HLT at CPL 3 is #GP: the XSAVE before it completed.
            Assert.Equal(13, h.ExceptionVector);
            var area = ReadArea(vm, Area);
            Assert.Equal((ushort)0x37F, BitConverter.ToUInt16(area, 0));
            AssertUntouched(area, 24, 32);       // MXCSR is not part of the x87 component
            AssertUntouched(area, 160, 512);
            // XSTATE_BV[0] = XINUSE[0] = 0 (the x87 state is as reset left it); the other bits are kept.
            Assert.Equal(0xCCCC_CCCC_CCCC_CCCCUL & ~1UL, BitConverter.ToUInt64(area, 512));
        }
    }
}
