using System.Diagnostics;
using System.Runtime.CompilerServices;
using Dispatch.Execution;
using Dispatch.Vmx;

namespace Dispatch;

/// <summary>
/// The run loop: VM entry (VMLAUNCH the first time, VMRESUME after), guest execution until an exit condition the controls
/// define, VM exit (exit information and guest state written to the VMCS), dispatch to the handler, the handler's action,
/// and VM entry again.
/// </summary>
public sealed partial class VCpu
{
    // Instructions between checks of the timeout, the preemption timer and pending events.
    private const long SliceInstructions = 1 << 20;

    /// <summary>
    /// Runs the guest until a handler stops it, an exit is unhandled, VM entry fails, or a bound in
    /// <paramref name="options"/> is reached. Generic over the handler so that a struct handler's dispatch is
    /// devirtualised and inlined. Never throws for anything the guest does; a handler's exception ends the run with
    /// <see cref="RunOutcome.HandlerFailed"/>. Throws <see cref="ObjectDisposedException"/> when the machine is disposed.
    /// </summary>
    public RunResult Run<THandler>(ref THandler handler, RunOptions? options = null) where THandler : IExitHandler
    {
        Processor.CancelRequested = false;
        return RunGuarded(ref handler, options);
    }

    /// <summary>
    /// <see cref="Run{THandler}(ref THandler, RunOptions?)"/> without clearing an earlier <see cref="RequestStop"/>:
    /// <see cref="VirtualMachine.RunAll{THandler}"/> clears every vCPU's request before starting any thread, so a stop
    /// issued while a thread is still starting is not lost.
    /// </summary>
    internal RunResult RunKeepingStopRequest<THandler>(ref THandler handler, RunOptions? options) where THandler : IExitHandler
    {
        return RunGuarded(ref handler, options);
    }

    internal void ClearStopRequest() => Processor.CancelRequested = false;

    private RunResult RunGuarded<THandler>(ref THandler handler, RunOptions? options) where THandler : IExitHandler
    {
        // The TLB and decoded blocks hold host pointers into guest memory: the memory must outlive the run, and a run of a
        // disposed machine must not start (its pointers would dangle).
        if (!Machine.Memory.TryEnterRun()) throw new ObjectDisposedException(nameof(VirtualMachine));
        try
        {
            return RunCore(ref handler, options);
        }
        catch (Exception e) when (e is not ExecutionInterrupt)
        {
            // Guests cannot reach this: their faults are architectural events. Anything here is a defect in the engine,
            // reported instead of taking the host process down.
            return new RunResult(RunOutcome.EngineFailed, default, VmInstructionError.None, e);
        }
        finally
        {
            Machine.Memory.ExitRun();
        }
    }

    private RunResult RunCore<THandler>(ref THandler handler, RunOptions? options) where THandler : IExitHandler
    {
        options ??= RunOptions.Default;
        _flushTlbOnLoad = true;
        long budget = options.MaxInstructions;
        long deadline = options.Timeout is { } t ? Stopwatch.GetTimestamp() + (long)(t.TotalSeconds * Stopwatch.Frequency) : long.MaxValue;
        bool measure = options.MeasureLatency;

        var entryError = Enter(out bool exitedOnEntry);
        if (entryError != VmInstructionError.None) return new RunResult(RunOutcome.EntryFailed, default, entryError, null);

        while (true)
        {
            if (!exitedOnEntry)
            {
                StopReason stop = ExecuteGuest(ref budget, deadline);
                switch (stop)
                {
                    case StopReason.Budget:
                        SaveGuestState();
                        return new RunResult(RunOutcome.BudgetExhausted, default, VmInstructionError.None, null);
                    case StopReason.Cancelled:
                        SaveGuestState();
                        return new RunResult(RunOutcome.Cancelled, default, VmInstructionError.None, null);
                    case StopReason.Halted:
                        SaveGuestState();
                        return new RunResult(RunOutcome.Halted, default, VmInstructionError.None, null);
                }
            }
            else
            {
                // An exit on entry (a zero preemption timer, a failed entry) retires nothing: it uses budget, so that a
                // handler resuming into the same exit again and again still reaches the bounds.
                if (budget <= 0 || (deadline != long.MaxValue && Stopwatch.GetTimestamp() >= deadline))
                    return new RunResult(RunOutcome.BudgetExhausted, default, VmInstructionError.None, null);
                budget--;
            }
            exitedOnEntry = false;

            // VM exit: record, then dispatch.
            if (RecordExit() is { } abort)
                return new RunResult(RunOutcome.VmxAbort, new ExitReasonField(Vmcs.Read32(VmcsField.VmExitReason)), VmInstructionError.None, abort);
            var reason = Processor.Exit.Reason;
            Statistics.Record(reason);
            long start = measure ? Stopwatch.GetTimestamp() : 0;
            ExitAction action;
            try
            {
                var context = new ExitContext(this);
                action = handler.Dispatch(ref context);
            }
            catch (Exception e)
            {
                return new RunResult(RunOutcome.HandlerFailed, new ExitReasonField(Vmcs.Read32(VmcsField.VmExitReason)), VmInstructionError.None, e);
            }
            if (measure) Statistics.RecordLatency(reason, Stopwatch.GetTimestamp() - start);

            // When the handler left the VMCS as the exit wrote it, the engine's own follow-up (advancing RIP) is mirrored
            // into the processor (or made there, while the processor still holds the guest state) and the next entry
            // needs neither checks nor a reload.
            bool untouched = Vmcs.Version == _stateVersion;
            var applied = ApplyAction(action, reason);
            if (untouched && action.Kind != ExitActionKind.Inject && !Vmcs.IsGuestStateDeferred) SyncAfterEngineWrites();
            switch (applied)
            {
                case ActionResult.Stop:
                    return new RunResult(RunOutcome.Stopped, new ExitReasonField(Vmcs.Read32(VmcsField.VmExitReason)), VmInstructionError.None, null);
                case ActionResult.Unhandled:
                    return new RunResult(RunOutcome.Unhandled, new ExitReasonField(Vmcs.Read32(VmcsField.VmExitReason)), VmInstructionError.None, null);
            }
            entryError = Enter(out exitedOnEntry);
            if (entryError != VmInstructionError.None) return new RunResult(RunOutcome.EntryFailed, default, entryError, null);
        }
    }

    private enum ActionResult : byte { Resume, Stop, Unhandled }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private ActionResult ApplyAction(ExitAction action, ExitReason reason)
    {
        switch (action.Kind)
        {
            case ExitActionKind.Complete:
                if (ExitReasonFacts.IsInstructionCaused(reason)) AdvanceGuestRip();
                return ActionResult.Resume;
            case ExitActionKind.Advance:
                AdvanceGuestRip();
                return ActionResult.Resume;
            case ExitActionKind.Resume:
                return ActionResult.Resume;
            case ExitActionKind.Inject:
                Vmcs.Write(VmcsField.VmEntryInterruptionInformation, action.Event.Raw | InterruptionInfo.ValidBit);
                Vmcs.Write(VmcsField.VmEntryExceptionErrorCode, action.ErrorCode);
                Vmcs.Write(VmcsField.VmEntryInstructionLength, (ulong)action.InstructionLength);
                return ActionResult.Resume;
            case ExitActionKind.Stop:
                return ActionResult.Stop;
            default:
                return ActionResult.Unhandled;
        }
    }

    /// <summary>
    /// Emulation of the exiting instruction is complete: RIP moves past it by VM_EXIT_INSTRUCTION_LEN and blocking by STI
    /// or MOV SS ends, as it would after the instruction retired.
    /// </summary>
    private void AdvanceGuestRip()
    {
        if (Vmcs.IsGuestStateDeferred)
        {
            // The processor still holds the guest state: the advance happens there, where the deferred save will find it.
            Processor.Rip += Vmcs.VmExitInstructionLength;
            Processor.Interruptibility &= ~3u;
            return;
        }
        Vmcs.Write(VmcsField.GuestRip, Vmcs.Read(VmcsField.GuestRip) + Vmcs.Read(VmcsField.VmExitInstructionLength));
        uint interruptibility = Vmcs.Read32(VmcsField.GuestInterruptibilityState);
        if ((interruptibility & 3) != 0) Vmcs.Write(VmcsField.GuestInterruptibilityState, interruptibility & ~3u);
    }

    /// <summary>Runs guest instructions in slices, checking the timeout and exit conditions that are not instructions.</summary>
    private StopReason ExecuteGuest(ref long budget, long deadline)
    {
        var p = Processor;
        bool monitorTrap = p.Controls.Has(PrimaryProcessorControls.MonitorTrapFlag);
        while (budget > 0)
        {
            // Checked on every entry too, not only between slices: a guest that exits at once on each entry would never
            // finish a slice.
            if (deadline != long.MaxValue && Stopwatch.GetTimestamp() >= deadline) return StopReason.Budget;
            // Nothing can be pending unless an event, a window or the timer is armed: the common entry tests that alone.
            bool armed = EventsArmed();
            if (armed || _preemptionDeadline != long.MaxValue)
            {
                if (PendingEventExit())
                {
                    // Retires nothing either (a preemption timer of zero exits on every entry): it uses budget too.
                    budget--;
                    return StopReason.VmExit;
                }
                armed = EventsArmed();
            }
            else p.Interruptibility &= ~3u; // what PendingEventExit ends with: STI and MOV-SS blocking last one instruction
            // Windows and pending events are recognised at instruction boundaries, so while one is armed the guest runs
            // one instruction at a time; the preemption timer is checked every few thousand instructions.
            long slice = monitorTrap || armed ? 1 : Math.Min(budget, _preemptionDeadline != long.MaxValue ? 4096 : SliceInstructions);
            long before = slice;
            StopReason stop = p.Execute(ref slice);
            budget -= before - slice;
            if (stop != StopReason.Budget)
            {
                // An exit before anything retired still uses budget: a handler that resumes a guest which exits again
                // at once (an exception exit answered with Complete) would otherwise loop without reaching the bound.
                if (stop == StopReason.VmExit && slice == before) budget--;
                return stop;
            }
            if (monitorTrap)
            {
                // Trap-like: RIP is already past the instruction (Intel SDM Vol. 3C, 26.5.2).
                p.BeginExit(ExitReason.MonitorTrapFlag, 0);
                return StopReason.VmExit;
            }
            if (deadline != long.MaxValue && Stopwatch.GetTimestamp() >= deadline) return StopReason.Budget;
        }
        return StopReason.Budget;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private bool EventsArmed()
    {
        var c = Processor.Controls;
        return _pendingExternalVector >= 0 || _pendingNmi
            || c.Has(PrimaryProcessorControls.InterruptWindowExiting) || c.Has(PrimaryProcessorControls.NmiWindowExiting);
    }

    /// <summary>
    /// Writes the exit information gathered by the processor into the VMCS, saves the guest state and processes the
    /// VM-exit MSR areas (28.2, 28.3, 28.4, 28.6). Returns the VMX abort the MSR areas caused, if any (null normally).
    /// </summary>
    private VmxAbortException? RecordExit()
    {
        ref PendingExit e = ref Processor.Exit;
        Vmcs.RecordExit(new VmExitInformation(ExitReasonField.From(e.Reason, e.EntryFailure), e.Qualification)
        {
            GuestLinearAddress = e.GuestLinearAddress,
            GuestPhysicalAddress = e.GuestPhysicalAddress,
            InstructionLength = (uint)e.InstructionLength,
            InstructionInformation = e.InstructionInformation,
            ExitInterruption = new InterruptionInfo(e.InterruptionInformation),
            ExitInterruptionErrorCode = e.InterruptionErrorCode,
            IdtVectoring = new InterruptionInfo(e.IdtVectoringInformation),
            IdtVectoringErrorCode = e.IdtVectoringErrorCode,
        });
        // A failed entry saves no guest state (27.8), and the processor is not in sync: reason 33 loaded nothing, reason 34
        // loaded the guest state (and perhaps some MSRs), and the next entry loads the guest state again.
        // The exit MSR-load area is still processed (27.8); the counts are read from the VMCS, which may not be loaded.
        if (e.EntryFailure)
        {
            _stateVersion = -1;
            return ExitUsesMsrAreas(Vmcs) ? ProcessExitMsrAreas(entryFailure: true) : null;
        }
        DeferGuestStateSave();
        // A register the next entry loads from the VMCS again, changed by the guest: that entry must load the guest state.
        _stateVersion = GuestChangedRevertingLoads() ? -1 : Vmcs.Version;
        return _exitUsesMsrAreas ? ProcessExitMsrAreas(entryFailure: false) : null;
    }

    /// <summary>Mirrors the engine's own VMCS writes after an exit (RIP advance, end of STI blocking) into the processor.</summary>
    private void SyncAfterEngineWrites()
    {
        Processor.Rip = Vmcs.Read(VmcsField.GuestRip);
        Processor.Interruptibility = Vmcs.Read32(VmcsField.GuestInterruptibilityState);
        _stateVersion = Vmcs.Version;
    }
}
