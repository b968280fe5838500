using System.Collections.Frozen;
using System.Runtime.CompilerServices;
using BenchmarkDotNet.Attributes;
using Dispatch.Vmx;

namespace Dispatch.Benchmarks.DispatchLatency;

public enum HandlerInlining { Inlinable, NoInlining }

/// <summary>
/// Cost of getting from a VM exit to its handler: the generated switch against the hand-written switch (baseline) and the
/// table mechanisms, on a trace of 2^20 exits. Every mechanism reads VM_EXIT_REASON from the VMCS of a vCPU prepared for
/// that reason (one vCPU per reason, built in setup), so the VMCS read costs all of them the same; the handlers are shared.
/// </summary>
[MemoryDiagnoser]
[BenchmarkCategory("Dispatch")]
public unsafe class DispatchLatencyBenchmarks
{
    public const int TraceLength = 1 << 20;

    [Params(TraceKind.SameReason, TraceKind.UniformRandom, TraceKind.RecordedGuest)]
    public TraceKind Trace { get; set; }

    [Params(HandlerInlining.Inlinable, HandlerInlining.NoInlining)]
    public HandlerInlining Handlers { get; set; }

    private VirtualMachine _vm = null!;
    private VCpu[] _trace = null!;
    private ExitHandlerDelegate[] _delegates = null!;
    private IReasonHandler[] _interfaces = null!;
    private delegate*<ref ExitContext, ExitAction>[] _functionPointers = null!;
    private Dictionary<int, ExitHandlerDelegate> _dictionary = null!;
    private FrozenDictionary<int, ExitHandlerDelegate> _frozen = null!;

    [GlobalSetup]
    public void Setup()
    {
        _vm = new VirtualMachine(1 << 20);
        var byReason = new Dictionary<ExitReason, VCpu>();
        foreach (var reason in HandlerSet.Reasons)
        {
            var vcpu = _vm.CreateVCpu();
            vcpu.Vmcs.Write(VmcsField.VmExitReason, (uint)reason);
            byReason[reason] = vcpu;
        }
        _trace = Array.ConvertAll(ExitTraces.Create(Trace, TraceLength), r => byReason[r]);

        bool inlinable = Handlers == HandlerInlining.Inlinable;
        _delegates = new ExitHandlerDelegate[HandlerSet.TableSize];
        _interfaces = new IReasonHandler[HandlerSet.TableSize];
        _functionPointers = new delegate*<ref ExitContext, ExitAction>[HandlerSet.TableSize];
        var unhandledDelegate = new ExitHandlerDelegate(Unhandled);
        var unhandledInterface = new UnhandledReason();
        for (int i = 0; i < HandlerSet.TableSize; i++)
        {
            _delegates[i] = unhandledDelegate;
            _interfaces[i] = unhandledInterface;
            _functionPointers[i] = &Unhandled;
        }
        _dictionary = new Dictionary<int, ExitHandlerDelegate>();
        foreach (var reason in HandlerSet.Reasons)
        {
            _delegates[(int)reason] = HandlerTables.Delegate(reason, inlinable);
            _interfaces[(int)reason] = InterfaceHandlers.Create(reason, inlinable);
            _functionPointers[(int)reason] = HandlerTables.FunctionPointer(reason, inlinable);
            _dictionary[(int)reason] = HandlerTables.Delegate(reason, inlinable);
        }
        _frozen = _dictionary.ToFrozenDictionary();
    }

    [GlobalCleanup]
    public void Cleanup() => _vm.Dispose();

    private static ExitAction Unhandled(ref ExitContext context) => ExitAction.Unhandled;

    private sealed class UnhandledReason : IReasonHandler
    {
        public ExitAction Handle(ref ExitContext context) => ExitAction.Unhandled;
    }

    [Benchmark(Baseline = true, OperationsPerInvoke = TraceLength)]
    public long HandWrittenSwitch()
    {
        if (Handlers == HandlerInlining.Inlinable)
        {
            var h = new HandWrittenInlinableSwitch();
            return Loop(ref h, _trace);
        }
        var o = new HandWrittenOutOfLineSwitch();
        return Loop(ref o, _trace);
    }

    [Benchmark(OperationsPerInvoke = TraceLength)]
    public long GeneratedSwitch()
    {
        if (Handlers == HandlerInlining.Inlinable)
        {
            var h = new InlinableHandlers();
            return Loop(ref h, _trace);
        }
        var o = new OutOfLineHandlers();
        return Loop(ref o, _trace);
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private static long Loop<THandler>(ref THandler handler, VCpu[] trace) where THandler : struct, IExitHandler
    {
        long sum = 0;
        foreach (var vcpu in trace)
        {
            var context = new ExitContext(vcpu);
            sum += (int)handler.Dispatch(ref context).Kind;
        }
        return sum;
    }

    [Benchmark(OperationsPerInvoke = TraceLength)]
    public long FunctionPointerTable()
    {
        var table = _functionPointers;
        long sum = 0;
        foreach (var vcpu in _trace)
        {
            var context = new ExitContext(vcpu);
            uint raw = context.RawExitReason;
            if ((raw & 0x8000_0000) != 0) { sum += (int)ExitActionKind.Unhandled; continue; }
            sum += (int)table[raw & (HandlerSet.TableSize - 1)](ref context).Kind;
        }
        return sum;
    }

    [Benchmark(OperationsPerInvoke = TraceLength)]
    public long DelegateArray()
    {
        var table = _delegates;
        long sum = 0;
        foreach (var vcpu in _trace)
        {
            var context = new ExitContext(vcpu);
            uint raw = context.RawExitReason;
            if ((raw & 0x8000_0000) != 0) { sum += (int)ExitActionKind.Unhandled; continue; }
            sum += (int)table[raw & (HandlerSet.TableSize - 1)](ref context).Kind;
        }
        return sum;
    }

    [Benchmark(OperationsPerInvoke = TraceLength)]
    public long InterfaceArray()
    {
        var table = _interfaces;
        long sum = 0;
        foreach (var vcpu in _trace)
        {
            var context = new ExitContext(vcpu);
            uint raw = context.RawExitReason;
            if ((raw & 0x8000_0000) != 0) { sum += (int)ExitActionKind.Unhandled; continue; }
            sum += (int)table[raw & (HandlerSet.TableSize - 1)].Handle(ref context).Kind;
        }
        return sum;
    }

    [Benchmark(OperationsPerInvoke = TraceLength)]
    public long DictionaryOfDelegates()
    {
        var table = _dictionary;
        long sum = 0;
        foreach (var vcpu in _trace)
        {
            var context = new ExitContext(vcpu);
            uint raw = context.RawExitReason;
            if ((raw & 0x8000_0000) == 0 && table.TryGetValue((int)(raw & 0xFFFF), out var handler))
                sum += (int)handler(ref context).Kind;
            else
                sum += (int)ExitActionKind.Unhandled;
        }
        return sum;
    }

    [Benchmark(OperationsPerInvoke = TraceLength)]
    public long FrozenDictionaryOfDelegates()
    {
        var table = _frozen;
        long sum = 0;
        foreach (var vcpu in _trace)
        {
            var context = new ExitContext(vcpu);
            uint raw = context.RawExitReason;
            if ((raw & 0x8000_0000) == 0 && table.TryGetValue((int)(raw & 0xFFFF), out var handler))
                sum += (int)handler(ref context).Kind;
            else
                sum += (int)ExitActionKind.Unhandled;
        }
        return sum;
    }
}
