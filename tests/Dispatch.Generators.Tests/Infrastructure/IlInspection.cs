using System.Reflection;
using System.Reflection.Emit;
using System.Reflection.Metadata;
using System.Reflection.PortableExecutable;

namespace Dispatch.Generators.Tests.Infrastructure;

/// <summary>Reads the IL of a compiled method: enough to see how the compiler lowered a <c>switch</c>.</summary>
internal static class IlInspection
{
    private static readonly Dictionary<short, OpCode> s_opCodes = typeof(OpCodes)
        .GetFields(BindingFlags.Public | BindingFlags.Static)
        .Select(f => (OpCode)f.GetValue(null)!)
        .ToDictionary(o => o.Value);

    /// <summary>The target counts of the IL <c>switch</c> instructions of <paramref name="type"/>.<paramref name="method"/>, in order.</summary>
    public static List<int> SwitchInstructionSizes(byte[] assembly, string type, string method)
    {
        using var pe = new PEReader(new MemoryStream(assembly));
        MetadataReader metadata = pe.GetMetadataReader();
        MethodDefinition definition = metadata.MethodDefinitions.Select(metadata.GetMethodDefinition).Single(m =>
            metadata.GetString(m.Name) == method && metadata.GetString(metadata.GetTypeDefinition(m.GetDeclaringType()).Name) == type);
        byte[] il = pe.GetMethodBody(definition.RelativeVirtualAddress).GetILBytes()!;

        var sizes = new List<int>();
        int offset = 0;
        while (offset < il.Length)
        {
            short value = il[offset] == 0xFE ? (short)(0xFE00 | il[offset + 1]) : il[offset];
            offset += il[offset] == 0xFE ? 2 : 1;
            OpCode opCode = s_opCodes[value];
            if (opCode.OperandType == OperandType.InlineSwitch)
            {
                int count = BitConverter.ToInt32(il, offset);
                sizes.Add(count);
                offset += 4 + 4 * count;
                continue;
            }
            offset += opCode.OperandType switch
            {
                OperandType.InlineNone => 0,
                OperandType.ShortInlineBrTarget or OperandType.ShortInlineI or OperandType.ShortInlineVar => 1,
                OperandType.InlineVar => 2,
                OperandType.InlineI8 or OperandType.InlineR => 8,
                _ => 4,
            };
        }
        return sizes;
    }
}
