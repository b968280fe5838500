using Dispatch.Memory;
using Dispatch.Vmx;

namespace Dispatch;

/// <summary>
/// A virtual machine: guest-physical memory shared by its vCPUs. Each vCPU has its own VMCS and runs on the thread that
/// calls its <see cref="VCpu.Run{THandler}(ref THandler, RunOptions?)"/>; <see cref="RunAll{THandler}"/> runs them all,
/// one thread each. Dispose the machine only after every vCPU has stopped.
/// </summary>
public sealed class VirtualMachine : IDisposable
{
    private readonly List<VCpu> _vcpus = [];

    /// <summary>Creates a machine with <paramref name="memorySize"/> bytes of RAM at guest-physical 0.</summary>
    public VirtualMachine(ulong memorySize, VmxCapabilities? capabilities = null)
    {
        Memory = new GuestMemory(memorySize);
        Capabilities = capabilities ?? VmxCapabilities.Default;
    }

    public GuestMemory Memory { get; }

    /// <summary>The IA32_VMX_* capabilities every vCPU's VM entries are checked against.</summary>
    public VmxCapabilities Capabilities { get; }

    public IReadOnlyList<VCpu> VCpus => _vcpus;

    public VCpu CreateVCpu()
    {
        var vcpu = new VCpu(this, _vcpus.Count);
        _vcpus.Add(vcpu);
        return vcpu;
    }

    /// <summary>
    /// Runs every vCPU on its own thread with a handler made by <paramref name="handlerFactory"/> for each, and waits for
    /// all of them. Policy: when one stops for any reason other than <see cref="RunOutcome.Stopped"/> (a failing handler,
    /// an unhandled exit, a failed entry, a budget, a cancellation), the others are asked to stop and return
    /// <see cref="RunOutcome.Cancelled"/> with their state saved, so the machine can be inspected and run again.
    /// </summary>
    public RunResult[] RunAll<THandler>(Func<VCpu, THandler> handlerFactory, RunOptions? options = null) where THandler : IExitHandler
    {
        var results = new RunResult[_vcpus.Count];
        var threads = new Thread[_vcpus.Count];
        // Cleared here, before any thread starts, and not by each run: a vCPU that fails at once must still stop the
        // ones whose threads have not reached the run loop yet.
        foreach (var v in _vcpus) v.ClearStopRequest();
        for (int i = 0; i < _vcpus.Count; i++)
        {
            int index = i;
            threads[i] = new Thread(() =>
            {
                var vcpu = _vcpus[index];
                try
                {
                    var handler = handlerFactory(vcpu);
                    results[index] = vcpu.RunKeepingStopRequest(ref handler, options);
                }
                catch (Exception e)
                {
                    // The factory is user code too; an exception on this thread would otherwise end the host process.
                    results[index] = new RunResult(RunOutcome.HandlerFailed, default, VmInstructionError.None, e);
                }
                if (results[index].Outcome != RunOutcome.Stopped) StopAll();
            }) { IsBackground = true, Name = $"vCPU {index}" };
            threads[i].Start();
        }
        foreach (var t in threads) t.Join();
        return results;
    }

    /// <summary>Asks every vCPU to stop at its next instruction-slice boundary.</summary>
    public void StopAll()
    {
        foreach (var v in _vcpus) v.RequestStop();
    }

    /// <summary>
    /// Asks every vCPU to stop and releases guest memory. A vCPU still running on another thread returns
    /// <see cref="RunOutcome.Cancelled"/> at its next slice boundary; the memory is released when it has (never under it).
    /// </summary>
    public void Dispose()
    {
        StopAll();
        Memory.Dispose();
    }
}
