using System.IO.Compression;
using System.Xml.Linq;
using Xunit.Abstractions;

namespace Dispatch.EndToEnd.Tests.Packaging;

/// <summary>The packed files, read as what they are: zip archives with a nuspec.</summary>
[Collection(PackagingCollection.Name)]
[Trait("Category", "Packaging")]
public sealed class PackageLayoutTests(PackedPackagesFixture packages, ITestOutputHelper output)
{
    [Fact]
    public void Pack_succeeds_and_writes_every_package_with_the_one_version()
    {
        output.WriteLine($"pack: {packages.Pack.Elapsed.TotalSeconds:F1} s, version {packages.Version}");
        Assert.True(packages.Pack.Succeeded, packages.Pack.ToString());
        string[] written = Directory.GetFiles(packages.Feed).Select(f => Path.GetFileName(f)).Order().ToArray();
        Assert.Equal(
            [
                $"Dispatch.Vmm.{packages.Version}.nupkg", $"Dispatch.Vmm.{packages.Version}.snupkg",
                $"Dispatch.Vmm.Cli.{packages.Version}.nupkg",
                $"Dispatch.Vmx.{packages.Version}.nupkg", $"Dispatch.Vmx.{packages.Version}.snupkg",
            ],
            written);
    }

    [Fact]
    public void Vmm_package_has_the_runtime_in_lib_and_the_generator_in_analyzers_only()
    {
        var files = Files("Dispatch.Vmm");
        Assert.Contains("lib/net10.0/Dispatch.Engine.dll", files);
        Assert.Contains("lib/net10.0/Dispatch.Engine.xml", files);
        Assert.Contains("analyzers/dotnet/cs/Dispatch.Generators.dll", files);
        Assert.Contains("PACKAGE.md", files);
        Assert.Contains("buildTransitive/Dispatch.Vmm.targets", files);
        Assert.DoesNotContain(files, f => f.StartsWith("lib/", StringComparison.Ordinal) && f.Contains("Generators", StringComparison.Ordinal));
        Assert.Equal(["analyzers/dotnet/cs/Dispatch.Generators.dll"], files.Where(f => f.StartsWith("analyzers/", StringComparison.Ordinal)));
        Assert.Equal(["lib/net10.0/Dispatch.Engine.dll", "lib/net10.0/Dispatch.Engine.xml"], files.Where(f => f.StartsWith("lib/", StringComparison.Ordinal)).Order());
        AssertNoTestOrSampleAssemblies(files);
    }

    [Fact]
    public void Vmx_package_has_its_runtime_and_docs()
    {
        var files = Files("Dispatch.Vmx");
        Assert.Equal(["lib/net10.0/Dispatch.Vmx.dll", "lib/net10.0/Dispatch.Vmx.xml"], files.Where(f => f.StartsWith("lib/", StringComparison.Ordinal)).Order());
        Assert.Contains("PACKAGE.md", files);
        Assert.DoesNotContain(files, f => f.StartsWith("analyzers/", StringComparison.Ordinal));
        AssertNoTestOrSampleAssemblies(files);
    }

    [Fact]
    public void Vmm_nuspec_depends_on_the_runtime_only_and_is_not_a_development_dependency()
    {
        var metadata = Nuspec("Dispatch.Vmm");
        var dependencies = metadata.Descendants(metadata.Name.Namespace + "dependency")
            .ToDictionary(d => (string)d.Attribute("id")!, d => (string)d.Attribute("version")!);
        Assert.Equal(packages.Version, dependencies["Dispatch.Vmx"]);
        Assert.True(dependencies.ContainsKey("Iced"), "Iced must flow as an ordinary dependency of the runtime");
        Assert.DoesNotContain(dependencies.Keys, id => id.StartsWith("Microsoft.CodeAnalysis", StringComparison.OrdinalIgnoreCase));
        Assert.DoesNotContain(dependencies.Keys, id => id.StartsWith("Dispatch.Generators", StringComparison.OrdinalIgnoreCase));
        Assert.NotEqual("true", (string?)Element(metadata, "developmentDependency"));
        AssertCommonMetadata(metadata);
    }

    [Fact]
    public void Vmx_nuspec_has_no_dependencies()
    {
        var metadata = Nuspec("Dispatch.Vmx");
        Assert.Empty(metadata.Descendants(metadata.Name.Namespace + "dependency"));
        AssertCommonMetadata(metadata);
    }

    [Theory]
    [InlineData("Dispatch.Vmm", "lib/net10.0/Dispatch.Engine.pdb")]
    [InlineData("Dispatch.Vmx", "lib/net10.0/Dispatch.Vmx.pdb")]
    public void Symbol_packages_hold_the_pdbs(string id, string pdb)
    {
        Assert.Contains(pdb, Files(id, "snupkg"));
        Assert.DoesNotContain(Files(id), f => f.EndsWith(".pdb", StringComparison.Ordinal));
    }

    [Fact]
    public void Cli_package_is_a_dotnet_tool_named_dispatch()
    {
        var files = Files("Dispatch.Vmm.Cli");
        Assert.Contains("tools/net10.0/any/dispatch.dll", files);
        Assert.Contains("tools/net10.0/any/Dispatch.Engine.dll", files);
        Assert.DoesNotContain(files, f => f.EndsWith("Dispatch.Generators.dll", StringComparison.Ordinal));
        AssertNoTestOrSampleAssemblies(files);

        var metadata = Nuspec("Dispatch.Vmm.Cli");
        Assert.Equal("DotnetTool", (string?)metadata.Descendants(metadata.Name.Namespace + "packageType").Single().Attribute("name"));
        using var archive = ZipFile.OpenRead(packages.PackagePath("Dispatch.Vmm.Cli"));
        using var settings = archive.GetEntry("tools/net10.0/any/DotnetToolSettings.xml")!.Open();
        var command = XDocument.Load(settings).Descendants("Command").Single();
        Assert.Equal("dispatch", (string?)command.Attribute("Name"));
        Assert.Equal("dispatch.dll", (string?)command.Attribute("EntryPoint"));
    }

    private static void AssertCommonMetadata(XElement metadata)
    {
        var license = Element(metadata, "license");
        Assert.Equal("expression", (string?)license?.Attribute("type"));
        Assert.Equal("MIT", (string?)license);
        Assert.Equal("PACKAGE.md", (string?)Element(metadata, "readme"));
        Assert.False(string.IsNullOrWhiteSpace((string?)Element(metadata, "description")));
    }

    private static void AssertNoTestOrSampleAssemblies(IReadOnlyList<string> files) =>
        Assert.DoesNotContain(files, f => f.EndsWith(".dll", StringComparison.Ordinal) &&
            (f.Contains("Tests", StringComparison.OrdinalIgnoreCase) || f.Contains("Sample", StringComparison.OrdinalIgnoreCase) ||
             f.Contains("Benchmark", StringComparison.OrdinalIgnoreCase) || f.Contains("xunit", StringComparison.OrdinalIgnoreCase)));

    private static XElement? Element(XElement metadata, string name) => metadata.Element(metadata.Name.Namespace + name);

    private List<string> Files(string id, string extension = "nupkg")
    {
        Assert.True(packages.Pack.Succeeded, packages.Pack.ToString());
        using var archive = ZipFile.OpenRead(packages.PackagePath(id, extension));
        return archive.Entries.Select(e => e.FullName).ToList();
    }

    private XElement Nuspec(string id)
    {
        Assert.True(packages.Pack.Succeeded, packages.Pack.ToString());
        using var archive = ZipFile.OpenRead(packages.PackagePath(id));
        using var stream = archive.GetEntry($"{id}.nuspec")!.Open();
        var package = XDocument.Load(stream).Root!;
        return package.Element(package.Name.Namespace + "metadata")!;
    }
}
