namespace Dispatch;

/// <summary>
/// Marks the method that receives every exit no <see cref="ExitHandlerAttribute"/> method claims, VM-entry failures
/// included. Without one, the generated dispatcher returns <see cref="ExitAction.Unhandled"/>, which stops the vCPU
/// cleanly and reports the exit reason.
/// </summary>
[AttributeUsage(AttributeTargets.Method, AllowMultiple = false, Inherited = false)]
public sealed class DefaultExitHandlerAttribute : Attribute;
