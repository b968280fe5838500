namespace Dispatch.Linux;

/// <summary>
/// What a guest file descriptor refers to: a host file descriptor the kernel owns, or (for standard streams handed in by
/// an embedding program, such as a test capturing output) a .NET stream.
/// </summary>
public sealed class OpenFile
{
    private OpenFile(int hostFd, Stream? stream, string path)
    {
        HostFd = hostFd;
        Stream = stream;
        Path = path;
    }

    public static OpenFile ForHost(int hostFd, string path) => new(hostFd, null, path);

    public static OpenFile ForStream(Stream stream, string path) => new(-1, stream, path);

    /// <summary>The host descriptor, or -1 for a stream.</summary>
    public int HostFd { get; }

    public Stream? Stream { get; }

    public string Path { get; }

    /// <summary>FD_CLOEXEC (kept, though nothing executes).</summary>
    public bool CloseOnExec { get; set; }

    public bool IsHost => HostFd >= 0;

    /// <summary>A new descriptor for the same open file: a host dup, or the same stream.</summary>
    public OpenFile? Duplicate()
    {
        if (!IsHost) return new OpenFile(-1, Stream, Path);
        int fd = HostLibc.dup(HostFd);
        return fd < 0 ? null : new OpenFile(fd, null, Path);
    }

    public void Close()
    {
        if (IsHost) HostLibc.close(HostFd);
        else Stream!.Flush();
    }
}

/// <summary>The process's descriptor table: the lowest free number is handed out first, as POSIX requires.</summary>
public sealed class FileTable
{
    public const int Limit = 1024;
    private readonly Dictionary<int, OpenFile> _files = [];

    public OpenFile? Get(long fd) => fd is >= 0 and < Limit && _files.TryGetValue((int)fd, out var f) ? f : null;

    public int Add(OpenFile file, int lowest = 0)
    {
        for (int fd = lowest; fd < Limit; fd++)
        {
            if (_files.ContainsKey(fd)) continue;
            _files[fd] = file;
            return fd;
        }
        file.Close();
        return -Errno.EMFILE;
    }

    public void Set(int fd, OpenFile file)
    {
        if (_files.Remove(fd, out var old)) old.Close();
        _files[fd] = file;
    }

    public bool Close(long fd)
    {
        var f = Get(fd);
        if (f is null) return false;
        _files.Remove((int)fd);
        f.Close();
        return true;
    }

    public void CloseAll()
    {
        foreach (var f in _files.Values) f.Close();
        _files.Clear();
    }
}
