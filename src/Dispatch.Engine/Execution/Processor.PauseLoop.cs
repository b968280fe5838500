using Dispatch.Vmx;

namespace Dispatch.Execution;

/// <summary>
/// PAUSE-loop exiting (Intel SDM Vol. 3C, 26.1.3, PAUSE): at CPL 0, a PAUSE more than PLE_Gap TSC cycles after the
/// previous CPL-0 PAUSE (or the first after VM entry) starts a new loop; a PAUSE more than PLE_Window cycles after the
/// start of its loop causes a VM exit. Time is the guest TSC without offsetting, which runs at the TSC rate.
/// </summary>
internal sealed partial class Processor
{
    private bool _pauseSeenSinceEntry;
    private ulong _lastPauseTsc, _pauseLoopStartTsc;

    /// <summary>Called on every VM entry: the next CPL-0 PAUSE is the first of a loop.</summary>
    internal void ResetPauseLoop() => _pauseSeenSinceEntry = false;

    /// <summary>Whether this PAUSE exits by the PAUSE-loop rule (only when PAUSE exiting is 0, which the caller checked).</summary>
    private bool PauseLoopDetected()
    {
        if (!Controls.Has(SecondaryProcessorControls.PauseLoopExiting) || Cpl != 0) return false;
        ulong now = HostTsc();
        if (!_pauseSeenSinceEntry || now - _lastPauseTsc > Controls.PleGap)
        {
            _pauseSeenSinceEntry = true;
            _pauseLoopStartTsc = now;
        }
        _lastPauseTsc = now;
        return now - _pauseLoopStartTsc > Controls.PleWindow;
    }
}
