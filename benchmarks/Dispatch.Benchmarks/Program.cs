using Dispatch.Benchmarks.Infrastructure;

return BenchmarkProgram.Run(args);

public partial class Program;
