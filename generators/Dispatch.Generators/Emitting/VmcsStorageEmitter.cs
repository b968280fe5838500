using System.Collections.Generic;
using System.Globalization;
using System.Linq;
using System.Text;
using Dispatch.Generators.Models;
using Dispatch.Generators.Parsing;

namespace Dispatch.Generators.Emitting;

/// <summary>
/// Writes the storage of a <c>[VmcsStorage]</c> class: one 64-bit slot per full field held inline, a typed property per
/// full field, and the encoding-to-slot table behind Read/Write/TryRead/TryWrite (the VMREAD/VMWRITE path).
/// <para>
/// The map is a static byte table indexed by (width, type, low encoding bits), not a <c>switch</c> over encodings: the
/// encodings are sparse (16 groups of a few dozen), so a switch compiles to a binary search over clusters followed by a
/// jump table, and measured several times slower than the table for mixed encodings (figures in the generator's README).
/// </para>
/// </summary>
internal static class VmcsStorageEmitter
{
    private const string Inline = "[global::System.Runtime.CompilerServices.MethodImpl(global::System.Runtime.CompilerServices.MethodImplOptions.AggressiveInlining)]";
    private const byte NoSlot = 0xFF;

    public static string HintName(TypeHierarchy type) => type.MetadataName + ".VmcsStorage.g.cs";

    public static string Emit(VmcsStorageModel model)
    {
        VmcsFieldEntry[] full = model.Fields.Where(f => !VmcsEncodingRules.IsHighAccess(f.Encoding)).OrderBy(f => f.Encoding).ToArray();
        var slotOf = new Dictionary<uint, int>();
        for (int i = 0; i < full.Length; i++)
            slotOf.Add(full[i].Encoding, i);

        // Index bits kept in the key: enough for the largest index of the table (at least one).
        int maxIndex = model.Fields.Select(f => VmcsEncodingRules.Index(f.Encoding)).DefaultIfEmpty(0).Max();
        int indexBits = 1;
        while ((1 << indexBits) <= maxIndex)
            indexBits++;
        int lowBits = indexBits + 1; // plus the access-type bit
        byte[] table = new byte[16 << lowBits];
        for (int i = 0; i < table.Length; i++)
            table[i] = NoSlot;
        foreach (VmcsFieldEntry field in model.Fields)
            table[Key(field.Encoding, lowBits)] = (byte)slotOf[field.Encoding & ~1u];
        uint encodingBits = 0x6C00u | ((1u << lowBits) - 1);

        var writer = new IndentedTextWriter();
        EmitterText.OpenType(writer, model.Type, baseList: "");
        string enumType = model.FieldTableType;

        writer.WriteLine($"/// <summary>The number of full fields of <see cref=\"{Cref(enumType)}\"/>: one 64-bit slot each.</summary>");
        writer.WriteLine($"internal const int SlotCount = {full.Length};");
        writer.WriteLine();
        writer.WriteLine("/// <summary>The slots, held inline in this object. A slot always holds a value already truncated to its field's width.</summary>");
        writer.WriteLine("[global::System.Runtime.CompilerServices.InlineArray(SlotCount)]");
        writer.OpenBlock("private struct FieldSlots");
        writer.WriteLine("private ulong _slot;");
        writer.CloseBlock();
        writer.WriteLine();
        writer.WriteLine("private FieldSlots _slots;");
        writer.WriteLine();
        writer.WriteLine("/// <summary>");
        writer.WriteLine("/// Incremented by every write. A VMM (or the engine) compares it with a value it remembered to learn, at the cost of one");
        writer.WriteLine("/// load, whether anyone changed the VMCS since: the engine skips re-checking and re-loading an unchanged VMCS.");
        writer.WriteLine("/// </summary>");
        writer.WriteLine("public long Version { get; private set; }");
        writer.WriteLine();
        writer.WriteLine("/// <summary>");
        writer.WriteLine("/// Called before any read or write of a guest-state-area field (encoding bits 11:10 = 2). A class that lets a processor");
        writer.WriteLine("/// keep the guest state after a VM exit, as hardware keeps the current VMCS cached, implements it to write that state");
        writer.WriteLine("/// back first; unimplemented, the call compiles away.");
        writer.WriteLine("/// </summary>");
        writer.WriteLine("partial void OnGuestStateAreaAccess();");

        for (int i = 0; i < full.Length; i++)
            WriteProperty(writer, full[i], i);

        writer.WriteLine();
        writer.WriteLine("/// <summary>Reads a field (a high-access encoding reads the upper 32 bits of its 64-bit field).</summary>");
        writer.WriteLine(Inline);
        writer.OpenBlock($"public ulong Read({enumType} field)");
        writer.WriteLine("int slot = SlotOf((uint)field);");
        writer.WriteLine("if (slot < 0) ThrowUnsupported(field);");
        writer.WriteLine(GuestStateCheck("(uint)field"));
        writer.WriteLine("ulong value = _slots[slot];");
        writer.WriteLine("return ((uint)field & 1) != 0 ? value >> 32 : value;");
        writer.CloseBlock();
        writer.WriteLine();
        writer.WriteLine("/// <summary>Writes a field, truncating the value to the field's width. A high access writes the upper 32 bits only.</summary>");
        writer.WriteLine(Inline);
        writer.OpenBlock($"public void Write({enumType} field, ulong value)");
        writer.WriteLine("int slot = SlotOf((uint)field);");
        writer.WriteLine("if (slot < 0) ThrowUnsupported(field);");
        writer.WriteLine(GuestStateCheck("(uint)field"));
        writer.WriteLine("Store(ref _slots[slot], (uint)field, value);");
        writer.CloseBlock();
        writer.WriteLine();
        writer.WriteLine("/// <summary>Whether an encoding (as a VMREAD/VMWRITE register operand gives it) names a component this model stores.</summary>");
        writer.WriteLine(Inline);
        writer.WriteLine("public static bool IsSupported(ulong encoding) => SlotOf(encoding) >= 0;");
        writer.WriteLine();
        writer.WriteLine("/// <summary>");
        writer.WriteLine("/// Reads by raw encoding without throwing: false when the encoding names no supported component (the VMREAD path,");
        writer.WriteLine("/// which reports that as VM-instruction error 12 instead of an exception). Allocates nothing.");
        writer.WriteLine("/// </summary>");
        writer.WriteLine(Inline);
        writer.OpenBlock("public bool TryRead(ulong encoding, out ulong value)");
        writer.WriteLine("int slot = SlotOf(encoding);");
        writer.OpenBlock("if (slot < 0)");
        writer.WriteLine("value = 0;");
        writer.WriteLine("return false;");
        writer.CloseBlock();
        writer.WriteLine(GuestStateCheck("encoding"));
        writer.WriteLine("value = (encoding & 1) != 0 ? _slots[slot] >> 32 : _slots[slot];");
        writer.WriteLine("return true;");
        writer.CloseBlock();
        writer.WriteLine();
        writer.WriteLine("/// <summary>Writes by raw encoding without throwing and without the read-only rule (the processor's own access).</summary>");
        writer.WriteLine(Inline);
        writer.OpenBlock("public bool TryWrite(ulong encoding, ulong value)");
        writer.WriteLine("int slot = SlotOf(encoding);");
        writer.WriteLine("if (slot < 0) return false;");
        writer.WriteLine(GuestStateCheck("encoding"));
        writer.WriteLine("Store(ref _slots[slot], (uint)encoding, value);");
        writer.WriteLine("return true;");
        writer.CloseBlock();
        writer.WriteLine();
        writer.WriteLine("/// <summary>Sets every field to zero.</summary>");
        writer.OpenBlock("public void ClearFields()");
        writer.WriteLine("OnGuestStateAreaAccess();");
        writer.WriteLine("_slots = default;");
        writer.WriteLine("Version++;");
        writer.CloseBlock();
        writer.WriteLine();
        writer.WriteLine(Inline);
        writer.OpenBlock("private void Store(ref ulong slot, uint encoding, ulong value)");
        writer.WriteLine("Version++;");
        writer.WriteLine("// Bits 14:13 give the width; bit 0 a high access, which replaces bits 63:32 of a 64-bit field.");
        writer.WriteLine("if ((encoding & 1) != 0) slot = (slot & 0xFFFF_FFFF) | (value << 32);");
        writer.WriteLine("else slot = value & (((encoding >> 13) & 3) switch { 0 => 0xFFFFUL, 2 => 0xFFFF_FFFFUL, _ => ulong.MaxValue });");
        writer.CloseBlock();
        writer.WriteLine();
        writer.WriteLine("/// <summary>");
        writer.WriteLine($"/// The slot of an encoding, or -1. Only bits 14:13 (width), 11:10 (type) and {lowBits - 1}:0 (index and access type) may be");
        writer.WriteLine("/// set; they form the key of <see cref=\"SlotByKey\"/>, which holds 0xFF for every encoding outside the table");
        writer.WriteLine("/// (including the high access of a field that is not 64 bits wide).");
        writer.WriteLine("/// </summary>");
        writer.WriteLine(Inline);
        writer.OpenBlock("private static int SlotOf(ulong encoding)");
        writer.WriteLine($"if ((encoding & ~0x{encodingBits:X4}UL) != 0) return -1;");
        writer.WriteLine($"int key = (int)((((encoding >> 13) & 3) << {lowBits + 2}) | (((encoding >> 10) & 3) << {lowBits}) | (encoding & 0x{(1u << lowBits) - 1:X}));");
        writer.WriteLine("int slot = SlotByKey[key];");
        writer.WriteLine($"return slot == 0x{NoSlot:X2} ? -1 : slot;");
        writer.CloseBlock();
        writer.WriteLine();
        writer.WriteLine("/// <summary>Slot by key (width, type, index, access type); the array is constant data in the assembly, never allocated.</summary>");
        writer.WriteLine("private static global::System.ReadOnlySpan<byte> SlotByKey => new byte[]");
        writer.WriteLine("{");
        writer.Indent();
        for (int row = 0; row < table.Length; row += 32)
            writer.WriteLine(string.Join(", ", table.Skip(row).Take(32).Select(b => b.ToString(CultureInfo.InvariantCulture))) + ",");
        writer.Unindent();
        writer.WriteLine("};");
        writer.WriteLine();
        writer.WriteLine($"private static void ThrowUnsupported({enumType} field) =>");
        writer.WriteLine("    throw new global::System.ArgumentOutOfRangeException(nameof(field), \"0x\" + ((uint)field).ToString(\"X4\") + \" is not a VMCS component encoding this model supports.\");");
        EmitterText.CloseType(writer, model.Type);
        return writer.ToString();
    }

    /// <summary>The guest-state-area test of an encoding (bits 11:10 = 2); constant-folded when the field is a constant.</summary>
    private static string GuestStateCheck(string encoding) => $"if (({encoding} & 0xC00) == 0x800) OnGuestStateAreaAccess();";

    private static int Key(uint encoding, int lowBits) =>
        (int)((((encoding >> 13) & 3) << (lowBits + 2)) | (((encoding >> 10) & 3) << lowBits) | (encoding & ((1u << lowBits) - 1)));

    private static void WriteProperty(IndentedTextWriter writer, VmcsFieldEntry field, int slot)
    {
        string type = VmcsEncodingRules.CSharpType(field.Encoding);
        bool readOnly = VmcsEncodingRules.IsReadOnly(field.Encoding);
        writer.WriteLine();
        writer.WriteLine($"/// <summary>{field.Name}: {VmcsEncodingRules.Describe(field.Encoding)} field, encoding 0x{field.Encoding:X4}{(readOnly ? " (read-only to VMWRITE; set when a VM exit is recorded)" : "")}.</summary>");
        bool guestState = VmcsEncodingRules.Type(field.Encoding) == 2;
        writer.OpenBlock($"public {type} {field.Name}");
        string value = type == "ulong" ? $"_slots[{slot}]" : $"({type})_slots[{slot}]";
        if (guestState)
        {
            writer.OpenBlock("get");
            writer.WriteLine("OnGuestStateAreaAccess();");
            writer.WriteLine($"return {value};");
            writer.CloseBlock();
        }
        else writer.WriteLine($"get => {value};");
        writer.OpenBlock(readOnly ? "internal set" : "set");
        if (guestState) writer.WriteLine("OnGuestStateAreaAccess();");
        writer.WriteLine($"_slots[{slot}] = value;");
        writer.WriteLine("Version++;");
        writer.CloseBlock();
        writer.CloseBlock();
    }

    private static string Cref(string fullyQualified) =>
        fullyQualified.StartsWith("global::", System.StringComparison.Ordinal) ? fullyQualified.Substring("global::".Length) : fullyQualified;
}
