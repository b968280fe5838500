namespace Dispatch.Vmx;

/// <summary>A predicate over the VMCS that holds when one VM-entry rule is met; takes the state by reference so nothing is copied.</summary>
public delegate bool VmEntryPredicate(in VmEntryState state);

/// <summary>
/// One named VM-entry check, in the spirit of Bareflank's named checks: the name says which rule failed, the section
/// says where the SDM states it, the kind decides how the failure is reported.
/// </summary>
public sealed class VmEntryCheck
{
    public VmEntryCheck(string name, VmEntryCheckKind kind, string sdmSection, VmEntryPredicate passes,
        VmEntryFailureQualification qualification = VmEntryFailureQualification.Default)
    {
        Name = name;
        Kind = kind;
        SdmSection = sdmSection;
        Passes = passes;
        Qualification = qualification;
    }

    public string Name { get; }
    public VmEntryCheckKind Kind { get; }
    public string SdmSection { get; }
    public VmEntryPredicate Passes { get; }

    /// <summary>For guest-state checks: the exit qualification of the resulting entry-failure VM exit.</summary>
    public VmEntryFailureQualification Qualification { get; }

    public override string ToString() => $"{Name} ({Kind}, SDM {SdmSection})";
}
