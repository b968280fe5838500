using Dispatch.Vmx;

namespace Dispatch.Generators.Tests.Handlers
{
    /// <summary>A struct dispatcher nested in a static class and a record, without a default handler.</summary>
    public static partial class Outer
    {
        public partial record Middle
        {
            internal partial struct Inner
            {
                public int Calls;

                [ExitHandler(ExitReason.Cpuid, Leaf = 1)]
                private void FeatureLeaf() => Calls++;

                [ExitHandler(ExitReason.Vmcall)]
                private ExitAction Hypercall(ref GuestRegisters registers)
                {
                    Calls++;
                    registers.Rax = 42;
                    return ExitAction.Advance;
                }
            }
        }
    }
}
