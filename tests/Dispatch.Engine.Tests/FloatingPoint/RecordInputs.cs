using System.Buffers.Binary;

namespace Dispatch.Engine.Tests.FloatingPoint;

/// <summary>Random record inputs weighted towards the values that break floating-point code.</summary>
internal static class RecordInputs
{
    private static readonly uint[] Singles =
    [
        0x00000000, 0x80000000, 0x3F800000, 0xBF800000, 0x3FC00000, 0x40200000, 0x3F000000, 0x7F800000, 0xFF800000,
        0x7FC00000, 0xFFC00000, 0x7F800001, 0xFFA00005, 0x7FC12345, 0x00000001, 0x807FFFFF, 0x00800000, 0x7F7FFFFF,
        0xFF7FFFFF, 0x4F000000, 0xCF000000, 0x5F000000, 0xDF000000, 0x4EFFFFFF, 0x33800000, 0x0C000000,
    ];

    private static readonly ulong[] Doubles =
    [
        0, 0x8000000000000000, 0x3FF0000000000000, 0xBFF0000000000000, 0x3FF8000000000000, 0x4004000000000000,
        0x7FF0000000000000, 0xFFF0000000000000, 0x7FF8000000000000, 0xFFF8000000000000, 0x7FF0000000000001,
        0xFFF4000000000123, 0x0000000000000001, 0x800FFFFFFFFFFFFF, 0x0010000000000000, 0x7FEFFFFFFFFFFFFF,
        0x41E0000000000000, 0xC1E0000000000000, 0x43E0000000000000, 0xC3E0000000000000, 0x41DFFFFFFFC00000,
        0x3CA0000000000000, 0x36A0000000000000, 0x47EFFFFFE0000000, 0x3810000000000000,
    ];

    /// <summary>Fills <paramref name="bytes"/> with a mix of float, double, small integer, string-like and random data.</summary>
    public static void FillVector(Random r, Span<byte> bytes)
    {
        switch (r.Next(6))
        {
            case 0:
                for (int i = 0; i + 4 <= bytes.Length; i += 4) BinaryPrimitives.WriteUInt32LittleEndian(bytes[i..], Single(r));
                break;
            case 1:
                for (int i = 0; i + 8 <= bytes.Length; i += 8) BinaryPrimitives.WriteUInt64LittleEndian(bytes[i..], Double(r));
                break;
            case 2:
                for (int i = 0; i < bytes.Length; i++) bytes[i] = r.Next(8) == 0 ? (byte)0 : (byte)r.Next(32, 127);
                break;
            case 3:
                for (int i = 0; i < bytes.Length; i += 2) bytes[i] = (byte)r.Next(-3, 4);
                break;
            default:
                r.NextBytes(bytes);
                break;
        }
    }

    public static uint Single(Random r) => r.Next(3) == 0 ? (uint)r.NextInt64() : Singles[r.Next(Singles.Length)] ^ (r.Next(4) == 0 ? (uint)r.Next(4) : 0);

    public static ulong Double(Random r) => r.Next(3) == 0 ? (ulong)r.NextInt64() ^ ((ulong)r.Next() << 40) : Doubles[r.Next(Doubles.Length)] ^ (r.Next(4) == 0 ? (ulong)r.Next(4) : 0);

    /// <summary>An 80-bit extended value: zeros, denormals, pseudo-denormals, unnormals, infinities, NaNs and normals.</summary>
    public static (ulong Significand, ushort SignExponent) Extended(Random r)
    {
        ushort sign = (ushort)(r.Next(2) << 15);
        ulong random = (ulong)r.NextInt64() | ((ulong)r.Next(2) << 63);
        return r.Next(10) switch
        {
            0 => (0, sign),
            1 => (random >> 1, sign),
            2 => (random | (1UL << 63), sign),
            3 => (random >> 1, (ushort)(sign | r.Next(1, 0x7FFF))),
            4 => (1UL << 63, (ushort)(sign | 0x7FFF)),
            5 => ((random | (3UL << 62)), (ushort)(sign | 0x7FFF)),
            6 => ((random & ~(1UL << 62)) | (1UL << 63) | 1, (ushort)(sign | 0x7FFF)),
            7 => (random | (1UL << 63), (ushort)(sign | (0x3FFF + r.Next(-20, 64)))),
            8 => ((ulong)r.Next(1, 1000) << 54 | (1UL << 63), (ushort)(sign | (0x3FFF + r.Next(0, 10)))),
            _ => (random | (1UL << 63), (ushort)(sign | r.Next(1, 0x7FFF))),
        };
    }

    /// <summary>A record with no x87 exception pending and every SIMD exception masked (the host cannot take #XM).</summary>
    public static void Fill(Random r, Span<byte> record)
    {
        record.Clear();
        var image = record[Record.InImage..];
        ushort fcw = (ushort)(0x40 | (r.Next(4) == 0 ? r.Next(64) : 0x3F) | (r.Next(4) << 8) | (r.Next(4) << 10));
        ushort flags = (ushort)(r.Next(64) & fcw & 0x3F);
        ushort fsw = (ushort)(flags | (r.Next(8) << 11) | (r.Next(16) << 8 & 0x4700) | (r.Next(2) << 6 & (flags != 0 ? 0x40 : 0)));
        BinaryPrimitives.WriteUInt16LittleEndian(image, fcw);
        BinaryPrimitives.WriteUInt16LittleEndian(image[2..], fsw);
        image[4] = (byte)(r.Next(3) == 0 ? 0xFF : r.Next(256));
        uint mxcsr = 0x1F80 | (uint)(r.Next(4) << 13) | (uint)(r.Next(2) << 15) | (uint)(r.Next(2) << 6) | (uint)(r.Next(4) == 0 ? r.Next(64) : 0);
        BinaryPrimitives.WriteUInt32LittleEndian(image[24..], mxcsr);
        for (int i = 0; i < 8; i++)
        {
            var (sig, se) = Extended(r);
            BinaryPrimitives.WriteUInt64LittleEndian(image[(32 + 16 * i)..], sig);
            BinaryPrimitives.WriteUInt16LittleEndian(image[(40 + 16 * i)..], se);
        }
        for (int i = 0; i < 16; i++) FillVector(r, image.Slice(160 + 16 * i, 16));
        FillVector(r, record.Slice(Record.Memory, Record.MemorySize));
        for (int i = 0; i < 7; i++)
        {
            ulong v = r.Next(4) switch
            {
                0 => (ulong)r.Next(-40, 40),
                1 => Double(r),
                2 => Single(r),
                _ => (ulong)r.NextInt64() ^ ((ulong)r.Next() << 33),
            };
            BinaryPrimitives.WriteUInt64LittleEndian(record[(Record.GprIn + 8 * i)..], v);
        }
        BinaryPrimitives.WriteUInt64LittleEndian(record[(Record.GprIn + 56)..], 0x202 | ((ulong)r.Next(0x1000) & 0x8D5));
    }
}
