namespace Dispatch.Generators.Models;

/// <summary>
/// The outcome of reading one attributed method: a callable handler, nothing (the analyzer reports why), or an
/// internal failure that the generator turns into a diagnostic and a fallback dispatcher.
/// </summary>
internal sealed record TransformResult(HandlerMethod? Handler, TypeHierarchy? FailedType, string? Failure);
