namespace Dispatch.Generators;

/// <summary>Names of the incremental steps, for <c>WithTrackingName</c> and the incrementality tests.</summary>
internal static class TrackingNames
{
    public const string ExitHandlers = nameof(ExitHandlers);
    public const string DefaultHandlers = nameof(DefaultHandlers);
    public const string ValidExitHandlers = nameof(ValidExitHandlers);
    public const string ValidDefaultHandlers = nameof(ValidDefaultHandlers);
    public const string AllHandlers = nameof(AllHandlers);
    public const string Dispatchers = nameof(Dispatchers);
    public const string VmcsStorage = nameof(VmcsStorage);
    public const string VmcsAccessors = nameof(VmcsAccessors);
    public const string VmcsAccessorTypes = nameof(VmcsAccessorTypes);
}
