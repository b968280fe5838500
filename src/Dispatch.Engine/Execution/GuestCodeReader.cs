using Iced.Intel;

namespace Dispatch.Execution;

/// <summary>
/// Feeds Iced's decoder from guest memory. Within a page it reads the host bytes of that page; past the page end it either
/// stops (so a block ends before an instruction that straddles pages) or fetches through the page walk, which may fault
/// exactly as the processor's fetch would.
/// </summary>
internal sealed unsafe class GuestCodeReader : CodeReader
{
    private readonly Processor _processor;
    private byte* _page;
    private int _offset;
    private ulong _linear;
    private bool _crossPages;

    public GuestCodeReader(Processor processor) => _processor = processor;

    public void Reset(byte* page, ulong linear, bool crossPages)
    {
        _page = page;
        _linear = linear;
        _offset = (int)(linear & 0xFFF);
        _crossPages = crossPages;
    }

    public override int ReadByte()
    {
        if (_offset < 4096)
        {
            _linear++;
            return _page[_offset++];
        }
        if (!_crossPages) return -1;
        byte value = _processor.FetchByteSlow(_linear);
        _linear++;
        return value;
    }
}
