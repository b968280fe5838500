namespace Dispatch.Engine.Tests.Differential;

// One class per category so that xUnit runs the categories in parallel.

public sealed class AluDifferentialTests
{
    public static TheoryData<string> Forms => InstructionForms.Category("alu");

    [Theory, MemberData(nameof(Forms))]
    public void MatchesHost(string form) => DifferentialAssert.Matches(form);
}

public sealed class ShiftDifferentialTests
{
    public static TheoryData<string> Forms => InstructionForms.Category("shift");

    [Theory, MemberData(nameof(Forms))]
    public void MatchesHost(string form) => DifferentialAssert.Matches(form);
}

public sealed class MultiplyDivideDifferentialTests
{
    public static TheoryData<string> Forms => InstructionForms.Category("muldiv");

    [Theory, MemberData(nameof(Forms))]
    public void MatchesHost(string form) => DifferentialAssert.Matches(form);
}

public sealed class BitDifferentialTests
{
    public static TheoryData<string> Forms => InstructionForms.Category("bits");

    [Theory, MemberData(nameof(Forms))]
    public void MatchesHost(string form) => DifferentialAssert.Matches(form);
}

public sealed class ConditionDifferentialTests
{
    public static TheoryData<string> Forms => InstructionForms.Category("cc");

    [Theory, MemberData(nameof(Forms))]
    public void MatchesHost(string form) => DifferentialAssert.Matches(form);
}

public sealed class MiscDifferentialTests
{
    public static TheoryData<string> Forms => InstructionForms.Category("misc");

    [Theory, MemberData(nameof(Forms))]
    public void MatchesHost(string form) => DifferentialAssert.Matches(form);
}

public sealed class BmiDifferentialTests
{
    public static TheoryData<string> Forms => InstructionForms.Category("bmi");

    [Theory, MemberData(nameof(Forms))]
    public void MatchesHost(string form) => DifferentialAssert.Matches(form);
}

public sealed class MemoryOperandDifferentialTests
{
    public static TheoryData<string> Forms => InstructionForms.Category("memory");

    [Theory, MemberData(nameof(Forms))]
    public void MatchesHost(string form) => DifferentialAssert.Matches(form);
}

public sealed class SequenceDifferentialTests
{
    public static TheoryData<string> Forms => InstructionForms.Category("sequence");

    [Theory, MemberData(nameof(Forms))]
    public void MatchesHost(string form) => DifferentialAssert.Matches(form);
}

public sealed class LockedDifferentialTests
{
    public static TheoryData<string> Forms => InstructionForms.Category("locked");

    [Theory, MemberData(nameof(Forms))]
    public void MatchesHost(string form) => DifferentialAssert.Matches(form);
}

internal static class DifferentialAssert
{
    public static void Matches(string name)
    {
        string? failure = DifferentialHarness.Compare(InstructionForms.ByName[name]);
        Assert.True(failure is null, failure);
    }
}
