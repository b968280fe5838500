namespace Dispatch.EndToEnd.Tests.Packaging;

/// <summary>
/// Packs the current source once for every packaging test: the shipped projects are copied (without bin/ and obj/) to a
/// temporary directory and packed there with a version no run has used before, so neither the working tree's build
/// output nor any NuGet cache can stand in for the fresh packages.
/// </summary>
public sealed class PackedPackagesFixture : IDisposable
{
    public static readonly TimeSpan StepTimeout = TimeSpan.FromMinutes(6);

    // What the packages are built from; everything else in the repository stays out of the copy.
    private static readonly string[] SourceDirectories = ["src", "generators"];
    private static readonly string[] SourceFiles =
        ["Directory.Build.props", "Directory.Packages.props", "global.json", "Dispatch.sln", "Dispatch.Packages.slnf"];

    public PackedPackagesFixture()
    {
        RepositoryRoot = FindRepositoryRoot();
        Version = $"0.0.0-test.{Guid.NewGuid():N}";
        Root = Directory.CreateTempSubdirectory("dispatch-packaging-").FullName;
        try
        {
            var source = Path.Combine(Root, "source");
            foreach (var directory in SourceDirectories)
                CopyDirectory(Path.Combine(RepositoryRoot, directory), Path.Combine(source, directory));
            foreach (var file in SourceFiles)
                File.Copy(Path.Combine(RepositoryRoot, file), Path.Combine(source, file));

            // The copy has no git repository, so SourceLink is off here; the layout and the consumers are what is tested.
            Pack = DotnetCli.Run(source, StepTimeout, null,
                "pack", "Dispatch.Packages.slnf", "-c", "Release", $"-p:Version={Version}",
                "-p:EnableSourceLink=false", "-p:EnableSourceControlManagerQueries=false", "--disable-build-servers");
            Feed = Path.Combine(source, "artifacts", "packages");
        }
        catch
        {
            Dispose();
            throw;
        }
    }

    public string RepositoryRoot { get; }

    /// <summary>The unique version of this run's packages.</summary>
    public string Version { get; }

    /// <summary>The temporary directory holding the source copy, the feed and the consumers; deleted on dispose.</summary>
    public string Root { get; }

    /// <summary>The local folder feed the packages were written to.</summary>
    public string Feed { get; } = "";

    internal DotnetRun Pack { get; } = null!;

    public string PackagePath(string id, string extension = "nupkg") => Path.Combine(Feed, $"{id}.{Version}.{extension}");

    public void Dispose()
    {
        for (int attempt = 0; attempt < 3 && Directory.Exists(Root); attempt++)
        {
            try { Directory.Delete(Root, recursive: true); }
            catch (IOException) { Thread.Sleep(500); }
            catch (UnauthorizedAccessException) { Thread.Sleep(500); }
        }
    }

    private static string FindRepositoryRoot()
    {
        for (var directory = new DirectoryInfo(AppContext.BaseDirectory); directory is not null; directory = directory.Parent)
        {
            if (File.Exists(Path.Combine(directory.FullName, "Dispatch.Packages.slnf")))
                return directory.FullName;
        }
        throw new InvalidOperationException($"No Dispatch.Packages.slnf above {AppContext.BaseDirectory}.");
    }

    internal static void CopyDirectory(string from, string to)
    {
        Directory.CreateDirectory(to);
        foreach (var file in Directory.EnumerateFiles(from))
            File.Copy(file, Path.Combine(to, Path.GetFileName(file)));
        foreach (var directory in Directory.EnumerateDirectories(from))
        {
            var name = Path.GetFileName(directory);
            if (name is "bin" or "obj" || name.StartsWith('.')) continue;
            CopyDirectory(directory, Path.Combine(to, name));
        }
    }
}

[CollectionDefinition(Name)]
public sealed class PackagingCollection : ICollectionFixture<PackedPackagesFixture>
{
    public const string Name = "Packaging";
}
