namespace Dispatch.Generators;

internal static class Placeholder
{
}
