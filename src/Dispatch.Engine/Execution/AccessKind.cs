namespace Dispatch.Execution;

/// <summary>Why a linear or guest-physical address is being translated.</summary>
internal enum AccessKind : byte
{
    Read = 0,
    Write = 1,
    Fetch = 2,
}
