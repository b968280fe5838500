namespace Dispatch.Linux.Threads;

/// <summary>
/// Thrown out of a system call whose thread waited for the processor while the process ended: the call must not touch
/// the process again, and the thread's vCPU stops.
/// </summary>
internal sealed class ProcessEndingException() : Exception("the process is ending");
