using Dispatch.Generators.Models;

namespace Dispatch.Generators.Emitting;

/// <summary>Writes the implementation parts of the <c>[VmcsFieldAccessor]</c> properties of one type.</summary>
internal static class VmcsAccessorEmitter
{
    private const string Inline = "[global::System.Runtime.CompilerServices.MethodImpl(global::System.Runtime.CompilerServices.MethodImplOptions.AggressiveInlining)]";

    public static string HintName(TypeHierarchy type) => type.MetadataName + ".VmcsFields.g.cs";

    public static string Emit(VmcsAccessorsModel model)
    {
        var writer = new IndentedTextWriter();
        EmitterText.OpenType(writer, model.Type, baseList: "");
        bool first = true;
        foreach (VmcsAccessorModel accessor in model.Accessors)
        {
            if (!first)
                writer.WriteLine();
            first = false;
            writer.WriteLine(EmitterText.GeneratedCode);
            writer.OpenBlock($"{accessor.Modifiers}partial {accessor.PropertyType} {accessor.Name}");
            if (accessor.Getter is not null)
            {
                writer.WriteLine(Inline);
                writer.WriteLine($"{accessor.GetterModifiers}get => {accessor.Getter};");
            }
            if (accessor.Setter is not null)
            {
                writer.WriteLine(Inline);
                writer.WriteLine($"{accessor.SetterModifiers}{accessor.SetterKeyword} => {accessor.Setter};");
            }
            writer.CloseBlock();
        }
        EmitterText.CloseType(writer, model.Type);
        return writer.ToString();
    }
}
