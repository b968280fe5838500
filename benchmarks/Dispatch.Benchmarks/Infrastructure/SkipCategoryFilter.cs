using BenchmarkDotNet.Filters;
using BenchmarkDotNet.Running;

namespace Dispatch.Benchmarks.Infrastructure;

/// <summary>Leaves out the benchmarks of one category (used when their hardware is missing).</summary>
public sealed class SkipCategoryFilter(string category) : IFilter
{
    public bool Predicate(BenchmarkCase benchmarkCase) => !benchmarkCase.Descriptor.HasCategory(category);
}
