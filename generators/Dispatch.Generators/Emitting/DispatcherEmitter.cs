using System;
using System.Collections.Generic;
using System.Globalization;
using System.Linq;
using Dispatch.Generators.Models;

namespace Dispatch.Generators.Emitting;

/// <summary>
/// Writes the <c>Dispatch</c> method of one dispatcher type: an entry-failure test, then one <c>switch</c> over the basic
/// exit reason (labelled densely, so that it compiles to one jump table) whose arms call the handlers directly, with
/// nested switches over the refining values.
/// </summary>
internal static class DispatcherEmitter
{
    private const string ExitAction = "global::Dispatch.ExitAction";
    private const string Unhandled = ExitAction + ".Unhandled";
    private const string BaseList = " : global::Dispatch.IExitHandler";

    public static string HintName(TypeHierarchy type) => type.MetadataName + ".g.cs";

    public static string Emit(DispatcherModel model)
    {
        var writer = new IndentedTextWriter();
        EmitterText.OpenType(writer, model.Type, BaseList);
        WriteDispatch(writer, model);
        EmitterText.CloseType(writer, model.Type);
        return writer.ToString();
    }

    /// <summary>A dispatcher that compiles when generation failed: every exit is unhandled.</summary>
    public static string EmitFallback(TypeHierarchy type)
    {
        var writer = new IndentedTextWriter();
        EmitterText.OpenType(writer, type, BaseList);
        writer.WriteLine("/// <summary>Fallback: generating the exit dispatcher failed (see diagnostic DSP0012).</summary>");
        WriteSignature(writer);
        writer.WriteLine("{");
        writer.Indent();
        writer.WriteLine("return " + Unhandled + ";");
        writer.CloseBlock();
        EmitterText.CloseType(writer, type);
        return writer.ToString();
    }

    private static void WriteSignature(IndentedTextWriter writer)
    {
        writer.WriteLine(EmitterText.GeneratedCode);
        // The run loop calls the dispatcher from one place per handler type: inlining it there costs no code size and spares
        // a call and the copy of the returned action on every exit.
        writer.WriteLine("[global::System.Runtime.CompilerServices.MethodImpl(global::System.Runtime.CompilerServices.MethodImplOptions.AggressiveInlining)]");
        writer.WriteLine("public " + ExitAction + " Dispatch(ref global::Dispatch.ExitContext context)");
    }

    private static void WriteDispatch(IndentedTextWriter writer, DispatcherModel model)
    {
        HandlerMethod? fallback = model.Default;
        writer.WriteLine("/// <summary>Dispatches a VM exit to the handler of its reason (generated from the [ExitHandler] methods).</summary>");
        WriteSignature(writer);
        writer.WriteLine("{");
        writer.Indent();
        writer.WriteLine("uint raw = context.RawExitReason;");
        writer.OpenBlock("if ((raw & 0x80000000u) != 0u)");
        writer.WriteLine("// VM-entry failure: the basic reason says which check failed.");
        WriteReturn(writer, fallback);
        writer.CloseBlock();

        var byReason = new SortedDictionary<int, List<(Registration Registration, HandlerMethod Handler)>>();
        var seen = new HashSet<Registration>();
        foreach (HandlerMethod handler in model.Handlers)
        {
            foreach (Registration registration in handler.Registrations)
            {
                // A duplicate is an error the analyzer reports (DSP0001); the first handler keeps the case.
                if (!seen.Add(registration))
                    continue;
                if (!byReason.TryGetValue(registration.Reason, out var list))
                    byReason.Add(registration.Reason, list = new());
                list.Add((registration, handler));
            }
        }

        if (byReason.Count > 0)
        {
            writer.WriteLine();
            writer.OpenBlock("switch ((global::Dispatch.Vmx.ExitReason)(raw & 0xFFFFu))");
            bool first = true;
            foreach (var pair in byReason)
            {
                if (!first)
                    writer.WriteLine();
                first = false;
                WriteReasonCase(writer, pair.Value);
            }
            if (byReason.Count >= DenseThreshold)
                WriteGapLabels(writer, byReason.Keys.ToArray());
            writer.CloseBlock();
            writer.WriteLine();
        }
        WriteReturn(writer, fallback);
        writer.CloseBlock();
    }

    /// <summary>From this many handled reasons on, every reason below the highest gets a label (see <see cref="WriteGapLabels"/>).</summary>
    private const int DenseThreshold = 4;

    /// <summary>
    /// Labels, leading nowhere, for the reasons between the handled ones. Exit reasons are sparse (0, 1, 10, 12, 18, 30,
    /// 48...), and over sparse labels the compiler emits a search whose branches an unpredictable exit trace mispredicts
    /// one after another; with every value from 0 to the highest labelled it emits one jump table indexed by the reason
    /// itself: a single indirect branch, as cheap as a table of function pointers, while the arms still call the handlers
    /// directly (and may inline them).
    /// </summary>
    private static void WriteGapLabels(IndentedTextWriter writer, int[] handled)
    {
        var gaps = Enumerable.Range(0, handled[handled.Length - 1]).Except(handled).ToArray();
        if (gaps.Length == 0)
            return;
        writer.WriteLine();
        writer.WriteLine("// Unhandled reasons below the highest handled one: labelled so that the switch compiles to one jump table.");
        for (int row = 0; row < gaps.Length; row += 8)
            writer.WriteLine(string.Join(" ", gaps.Skip(row).Take(8).Select(g => "case (global::Dispatch.Vmx.ExitReason)" + g.ToString(CultureInfo.InvariantCulture) + ":")));
        writer.Indent();
        writer.WriteLine("break;");
        writer.Unindent();
    }

    private static void WriteReasonCase(IndentedTextWriter writer, List<(Registration Registration, HandlerMethod Handler)> entries)
    {
        writer.WriteLine("case global::Dispatch.Vmx.ExitReason." + entries[0].Registration.ReasonName + ":");
        writer.Indent();
        HandlerMethod? unrefined = entries.FirstOrDefault(e => e.Registration.Refinement == RefinementKind.None).Handler;
        var refined = entries.Where(e => e.Registration.Refinement != RefinementKind.None).ToList();
        if (refined.Count > 0)
        {
            RefinementKind kind = refined[0].Registration.Refinement;
            writer.OpenBlock("switch (" + RefiningValue(kind) + ")");
            foreach (var group in refined.GroupBy(e => e.Registration.Value).OrderBy(g => g.Key))
            {
                writer.WriteLine("case " + Literal(kind, group.Key) + ":");
                writer.Indent();
                HandlerMethod? leafOnly = group.FirstOrDefault(e => !e.Registration.HasSubleaf).Handler;
                var subleaves = group.Where(e => e.Registration.HasSubleaf).OrderBy(e => e.Registration.Subleaf).ToList();
                if (subleaves.Count > 0)
                {
                    writer.OpenBlock("switch ((uint)context.Registers.Rcx)");
                    foreach (var entry in subleaves)
                    {
                        writer.WriteLine("case " + Hex(entry.Registration.Subleaf) + "u:");
                        writer.Indent();
                        WriteCall(writer, entry.Handler);
                        writer.Unindent();
                    }
                    writer.CloseBlock();
                }
                if (leafOnly is not null)
                    WriteCall(writer, leafOnly);
                else
                    writer.WriteLine("break;");
                writer.Unindent();
            }
            writer.CloseBlock();
        }
        if (unrefined is not null)
            WriteCall(writer, unrefined);
        else
            writer.WriteLine("break;");
        writer.Unindent();
    }

    private static string RefiningValue(RefinementKind kind) => kind switch
    {
        RefinementKind.Port => "(ushort)(context.ExitQualification >> 16)",
        RefinementKind.Msr => "(uint)context.Registers.Rcx",
        RefinementKind.Leaf => "(uint)context.Registers.Rax",
        RefinementKind.ControlRegister => "(int)(context.ExitQualification & 0xFUL)",
        RefinementKind.Vector => "context.InterruptionInfo.Vector",
        _ => throw new ArgumentOutOfRangeException(nameof(kind)),
    };

    private static string Literal(RefinementKind kind, uint value) => kind switch
    {
        RefinementKind.Msr or RefinementKind.Leaf => Hex(value) + "u",
        RefinementKind.Port => Hex(value),
        _ => value.ToString(CultureInfo.InvariantCulture),
    };

    private static string Hex(uint value) => "0x" + value.ToString(value > 0xFFFF ? "X8" : value > 0xFF ? "X4" : "X2", CultureInfo.InvariantCulture);

    private static void WriteReturn(IndentedTextWriter writer, HandlerMethod? handler)
    {
        if (handler is null)
            writer.WriteLine("return " + Unhandled + ";");
        else
            WriteCall(writer, handler);
    }

    private static void WriteCall(IndentedTextWriter writer, HandlerMethod handler)
    {
        string target = handler.IsStatic ? handler.Type.Name + "." + handler.Name : "this." + handler.Name;
        string call = target + "(" + string.Join(", ", handler.Arguments.Select(Argument)) + ")";
        if (handler.ReturnsVoid)
        {
            writer.WriteLine(call + ";");
            writer.WriteLine("return " + ExitAction + ".Complete;");
        }
        else
        {
            writer.WriteLine("return " + call + ";");
        }
    }

    private static string Argument(ArgumentKind kind) => kind switch
    {
        ArgumentKind.ContextByRef => "ref context",
        ArgumentKind.ContextByIn => "in context",
        ArgumentKind.ContextByValue => "context",
        ArgumentKind.IoQualification => "new global::Dispatch.Vmx.IoQualification(context.ExitQualification)",
        ArgumentKind.CrAccessQualification => "new global::Dispatch.Vmx.CrAccessQualification(context.ExitQualification)",
        ArgumentKind.MovDrQualification => "new global::Dispatch.Vmx.MovDrQualification(context.ExitQualification)",
        ArgumentKind.EptViolationQualification => "new global::Dispatch.Vmx.EptViolationQualification(context.ExitQualification)",
        ArgumentKind.InterruptionInfo => "context.InterruptionInfo",
        ArgumentKind.ExitReasonField => "new global::Dispatch.Vmx.ExitReasonField(raw)",
        ArgumentKind.VCpu => "context.VCpu",
        ArgumentKind.RegistersByRef => "ref context.Registers",
        ArgumentKind.RegistersByIn => "in context.Registers",
        ArgumentKind.Vmcs => "context.Vmcs",
        _ => throw new ArgumentOutOfRangeException(nameof(kind)),
    };
}
