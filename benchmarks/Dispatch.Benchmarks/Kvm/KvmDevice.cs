namespace Dispatch.Benchmarks.Kvm;

/// <summary>Whether /dev/kvm can be used here, and which kernel module serves it.</summary>
public static class KvmDevice
{
    public const string Path = "/dev/kvm";
    public const string BenchmarkCategory = "Kvm";

    public static bool IsAvailable(out string reason)
    {
        if (!OperatingSystem.IsLinux()) { reason = "KVM exists only on Linux."; return false; }
        if (!File.Exists(Path)) { reason = $"{Path} does not exist on this machine ({Backend()})."; return false; }
        int fd = KvmNative.Open(Path, KvmNative.ORdWr | KvmNative.OCloexec);
        if (fd < 0)
        {
            reason = $"{Path} cannot be opened read-write (errno {System.Runtime.InteropServices.Marshal.GetLastPInvokeError()}); add the user to the kvm group.";
            return false;
        }
        int version = KvmNative.Ioctl(fd, KvmAbi.GetApiVersion);
        KvmNative.Close(fd);
        if (version != KvmAbi.ApiVersion) { reason = $"KVM_GET_API_VERSION returned {version}, expected {KvmAbi.ApiVersion}."; return false; }
        reason = "";
        return true;
    }

    /// <summary>The loaded KVM vendor modules and the CPU's virtualization flags, e.g. "kvm_pvm loaded; CPU flags: hypervisor".</summary>
    public static string Backend()
    {
        var modules = new[] { "kvm_intel", "kvm_amd", "kvm_pvm" }.Where(m => Directory.Exists($"/sys/module/{m}")).ToList();
        var flags = new HashSet<string>();
        try
        {
            foreach (var line in File.ReadLines("/proc/cpuinfo"))
            {
                if (!line.StartsWith("flags", StringComparison.Ordinal)) continue;
                foreach (var f in line[(line.IndexOf(':') + 1)..].Split(' ', StringSplitOptions.RemoveEmptyEntries))
                    if (f is "vmx" or "svm" or "hypervisor") flags.Add(f);
                break;
            }
        }
        catch (IOException) { }
        string moduleText = modules.Count == 0 ? "no KVM vendor module loaded" : string.Join(", ", modules) + " loaded";
        string kind = modules.Contains("kvm_pvm") ? " (PVM: KVM without hardware virtualization, for nested guests)"
            : flags.Contains("hypervisor") ? " (nested: this machine is itself a guest)" : "";
        return $"{moduleText}{kind}; CPU flags: {(flags.Count == 0 ? "none of vmx/svm/hypervisor" : string.Join(" ", flags.Order()))}";
    }
}
