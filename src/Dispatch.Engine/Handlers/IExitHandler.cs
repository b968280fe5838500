namespace Dispatch;

/// <summary>
/// The contract between the run loop and exit handlers. The source generator implements it for every partial type with
/// <see cref="ExitHandlerAttribute"/> methods; the run loop is generic over it (<c>Run&lt;THandler&gt;(ref THandler)</c>)
/// so a struct handler's dispatch is devirtualised and small handlers inline.
/// </summary>
public interface IExitHandler
{
    /// <summary>Handles the VM exit described by <paramref name="context"/> and says how the vCPU goes on.</summary>
    ExitAction Dispatch(ref ExitContext context);
}
