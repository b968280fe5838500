namespace Dispatch.Linux;

/// <summary>brk, mmap, munmap, mprotect and mremap over the process's <see cref="AddressSpace"/>.</summary>
public sealed unsafe partial class LinuxKernel
{
    private const int MapShared = 0x01, MapFixed = 0x10, MapAnonymous = 0x20, MapFixedNoReplace = 0x10_0000;
    private const int MremapMayMove = 1, MremapFixed = 2;
    private const ulong MaxBrk = 1UL << 36;

    private readonly ulong _brkStart;
    private ulong _brk;

    /// <summary>Where mmap looks for free space first (below the stack), as Linux's top-down allocator does.</summary>
    internal ulong MmapBase { get; set; } = 0x7FFF_F7FF_F000;

    private static Protection ToProtection(int prot) => (Protection)(prot & 7);

    private long Brk(ulong requested)
    {
        if (requested < _brkStart || requested > _brkStart + MaxBrk) return (long)_brk;
        ulong oldTop = AddressSpace.PageUp(_brk), newTop = AddressSpace.PageUp(requested);
        if (newTop > oldTop)
        {
            if (!_memory.IsFree(oldTop, newTop)) return (long)_brk;
            var heap = _memory.FindArea(oldTop - 1);
            if (heap is not null && heap.Name == "[heap]" && heap.End == oldTop) _memory.Extend(heap, newTop);
            else _memory.Map(oldTop, newTop, Protection.Read | Protection.Write, "[heap]");
        }
        else if (newTop < oldTop) _memory.Unmap(newTop, oldTop);
        _brk = requested;
        return (long)_brk;
    }

    private long Mmap(ulong address, ulong length, int prot, int flags, long fd, ulong offset)
    {
        if (length == 0 || (offset & (AddressSpace.PageSize - 1)) != 0) return -Errno.EINVAL;
        ulong size = AddressSpace.PageUp(length);
        if (size < length || size > 1UL << 40) return -Errno.ENOMEM;
        OpenFile? file = null;
        if ((flags & MapAnonymous) == 0)
        {
            file = File(fd);
            if (file is null) return -Errno.EBADF;
            if (!file.IsHost) return -Errno.EACCES;
        }
        ulong start;
        if ((flags & (MapFixed | MapFixedNoReplace)) != 0)
        {
            if ((address & (AddressSpace.PageSize - 1)) != 0 || address + size > AddressSpace.UserTop || address + size < address) return -Errno.EINVAL;
            if ((flags & MapFixedNoReplace) != 0 && !_memory.IsFree(address, address + size)) return -Errno.EEXIST;
            start = address;
        }
        else if (address != 0 && _memory.IsFree(AddressSpace.PageDown(address), AddressSpace.PageDown(address) + size))
            start = AddressSpace.PageDown(address);
        else if (_memory.FindFree(size, MmapBase) is { } free) start = free;
        else return -Errno.ENOMEM;

        _memory.Map(start, start + size, ToProtection(prot), file is null ? "[anon]" : file.Path);
        TlbFlush();
        if (file is not null)
        {
            // A private copy of the file's bytes; MAP_SHARED file mappings are copies too (writes do not reach the file).
            _ = flags & MapShared;
            var data = new byte[(int)Math.Min(length, 1UL << 30)];
            long n;
            fixed (byte* p = data) n = HostLibc.pread64(file.HostFd, p, data.Length, (long)offset);
            if (n < 0)
            {
                long error = HostLibc.Error();
                _memory.Unmap(start, start + size);
                return error;
            }
            if (n > 0 && !_memory.Fill(start, data.AsSpan(0, (int)n))) return -Errno.ENOMEM;
        }
        return (long)start;
    }

    private void TlbFlush() => _memory.TlbFlushNeeded = true;

    private long Munmap(ulong address, ulong length)
    {
        if ((address & (AddressSpace.PageSize - 1)) != 0 || length == 0) return -Errno.EINVAL;
        ulong end = AddressSpace.PageUp(address + length);
        if (end > AddressSpace.UserTop || end < address) return -Errno.EINVAL;
        _memory.Unmap(address, end);
        return 0;
    }

    private long Mprotect(ulong address, ulong length, int prot)
    {
        if ((address & (AddressSpace.PageSize - 1)) != 0) return -Errno.EINVAL;
        if (length == 0) return 0;
        ulong end = AddressSpace.PageUp(address + length);
        if (end > AddressSpace.UserTop || end < address) return -Errno.ENOMEM;
        return _memory.Protect(address, end, ToProtection(prot)) ? 0 : -Errno.ENOMEM;
    }

    private long Mremap(ulong oldAddress, ulong oldSize, ulong newSize, int flags, ulong newAddress)
    {
        if ((oldAddress & (AddressSpace.PageSize - 1)) != 0 || newSize == 0) return -Errno.EINVAL;
        oldSize = AddressSpace.PageUp(oldSize);
        newSize = AddressSpace.PageUp(newSize);
        var area = _memory.FindArea(oldAddress);
        if (area is null || oldAddress + oldSize > area.End) return -Errno.EFAULT;
        if ((flags & MremapFixed) != 0)
        {
            if ((flags & MremapMayMove) == 0 || (newAddress & (AddressSpace.PageSize - 1)) != 0) return -Errno.EINVAL;
            _memory.Unmap(newAddress, newAddress + newSize);
            _memory.Move(oldAddress, oldSize, newAddress, newSize);
            return (long)newAddress;
        }
        if (newSize <= oldSize)
        {
            _memory.Unmap(oldAddress + newSize, oldAddress + oldSize);
            return (long)oldAddress;
        }
        if (oldAddress + oldSize == area.End && _memory.IsFree(area.End, oldAddress + newSize))
        {
            _memory.Extend(area, oldAddress + newSize);
            return (long)oldAddress;
        }
        if ((flags & MremapMayMove) == 0) return -Errno.ENOMEM;
        if (_memory.FindFree(newSize, MmapBase) is not { } target) return -Errno.ENOMEM;
        _memory.Move(oldAddress, oldSize, target, newSize);
        return (long)target;
    }
}
