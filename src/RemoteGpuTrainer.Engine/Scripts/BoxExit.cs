namespace RemoteGpuTrainer.Engine.Scripts;

/// <summary>
/// The exit statuses box scripts end with: the same names and numbers as the table in rgt.sh
/// (RGT_EXIT_NO_TOOL is <see cref="NoTool"/>); a test keeps the two equal.
/// </summary>
public static class BoxExit
{
    public const int Failed = 1;
    public const int Missing = 2;
    public const int Unreadable = 3;
    public const int Unconfigured = 4;
    public const int NoTool = 5;
    public const int Busy = 6;
    public const int NoAnswer = 9;
    public const int Refused = 10;
    public const int Changed = 11;
    public const int NoWorkdir = 97;
    public const int Timeout = 124;
    public const int NoCommand = 127;
}
