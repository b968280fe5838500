using System.Text;

namespace Dispatch.Generators.Emitting;

/// <summary>A minimal writer of C# text that indents each line by the current block depth.</summary>
internal sealed class IndentedTextWriter
{
    private const string IndentUnit = "    ";
    private readonly StringBuilder _builder = new();
    private int _depth;

    public void WriteLine(string line = "")
    {
        if (line.Length > 0)
        {
            for (int i = 0; i < _depth; i++)
                _builder.Append(IndentUnit);
            _builder.Append(line);
        }
        _builder.Append('\n');
    }

    /// <summary>Writes <paramref name="line"/> and an opening brace, and indents until <see cref="CloseBlock"/>.</summary>
    public void OpenBlock(string line)
    {
        WriteLine(line);
        WriteLine("{");
        _depth++;
    }

    public void CloseBlock()
    {
        _depth--;
        WriteLine("}");
    }

    public void Indent() => _depth++;

    public void Unindent() => _depth--;

    public override string ToString() => _builder.ToString();
}
