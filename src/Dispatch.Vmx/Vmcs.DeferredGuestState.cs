using System.Runtime.CompilerServices;

namespace Dispatch.Vmx;

public sealed partial class Vmcs
{
    private IGuestStateHolder? _guestStateHolder;

    /// <summary>
    /// Lets <paramref name="holder"/> keep the guest state: the VMCS reads as though the state had been saved, and the
    /// save happens only when a guest-state field is first read or written (or the raw storage is read). A VM exit that
    /// the handler answers without touching the guest-state area then costs no save at all. The save does not count as a
    /// write (<see cref="Version"/> is unchanged by it): the fields' values, as any reader sees them, do not change.
    /// Because a read may now perform that save, a running vCPU's VMCS belongs to its own thread: read it from a handler
    /// or after the run returns, not from another thread while the guest runs.
    /// </summary>
    public void DeferGuestStateSave(IGuestStateHolder holder)
    {
        // Usually already registered (nothing touched the area since the last exit): a compare spares the store's GC barrier.
        if (!ReferenceEquals(_guestStateHolder, holder)) _guestStateHolder = holder;
    }

    /// <summary>Whether a processor holds the guest state (a save is deferred).</summary>
    public bool IsGuestStateDeferred => _guestStateHolder is not null;

    /// <summary>Performs a deferred guest-state save now, if one is pending.</summary>
    public void SaveDeferredGuestState() => OnGuestStateAreaAccess();

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    partial void OnGuestStateAreaAccess()
    {
        if (_guestStateHolder is not null) SaveHeldGuestState();
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private void SaveHeldGuestState()
    {
        var holder = _guestStateHolder!;
        // Cleared first: the holder writes through the ordinary accessors, which must not call back.
        _guestStateHolder = null;
        long version = Version;
        holder.SaveGuestState(this);
        Version = version;
    }
}
