namespace Dispatch.Devices;

/// <summary>
/// The transmit side of a 16550 UART at an I/O base (COM1 = 0x3F8), enough for guests that print: writes to THR
/// (base + 0) go to <see cref="Output"/>; LSR (base + 5) always reports the transmitter empty (bits 5 and 6), so polling
/// drivers never wait; other registers read as 0 and ignore writes. Exit handlers call it for I/O exits on its ports.
/// </summary>
public sealed class SerialPort
{
    public const ushort Com1 = 0x3F8;

    private const byte LineStatusTransmitterEmpty = 0x60;

    public SerialPort(Stream output, ushort basePort = Com1)
    {
        Output = output;
        BasePort = basePort;
    }

    public ushort BasePort { get; }

    public Stream Output { get; }

    /// <summary>Whether a port belongs to this UART (8 consecutive ports).</summary>
    public bool Claims(ushort port) => port >= BasePort && port < BasePort + 8;

    public void Write(ushort port, byte value)
    {
        if (port == BasePort) Output.WriteByte(value);
    }

    public byte Read(ushort port) => port == BasePort + 5 ? LineStatusTransmitterEmpty : (byte)0;
}
