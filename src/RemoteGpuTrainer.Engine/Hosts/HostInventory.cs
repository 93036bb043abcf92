using System.Globalization;
using RemoteGpuTrainer.Engine.Model;
using YamlDotNet.Core;
using YamlDotNet.Serialization;
using YamlDotNet.Serialization.NamingConventions;

namespace RemoteGpuTrainer.Engine.Hosts;

/// <summary>
/// The local inventory, hosts.yml in the config directory. Every change is a locked
/// read-modify-write with an atomic replace; a file that does not parse is reported with its
/// line and column and is never overwritten.
/// </summary>
public sealed class HostInventory
{
    static readonly TimeSpan LockTimeout = TimeSpan.FromSeconds(30);

    public HostInventory(string? path = null) => FilePath = path ?? Path.Combine(ConfigPaths.ConfigDirectory, "hosts.yml");

    public string FilePath { get; }

    public IReadOnlyList<GpuHost> Load() => Read();

    public GpuHost? Find(string name) =>
        Read().FirstOrDefault(h => string.Equals(h.Name, name, StringComparison.OrdinalIgnoreCase));

    /// <summary>Applies <paramref name="change"/> to the current list under the lock and saves the result.</summary>
    public IReadOnlyList<GpuHost> Update(Func<List<GpuHost>, List<GpuHost>> change)
    {
        using var _ = FileLock.Acquire(FilePath, LockTimeout);
        var next = change(Read().ToList());
        FileLock.WriteAllTextAtomic(FilePath, Serialize(next));
        return next;
    }

    List<GpuHost> Read()
    {
        if (!File.Exists(FilePath)) return new List<GpuHost>();
        var text = File.ReadAllText(FilePath);
        InventoryFile? doc;
        try
        {
            doc = Deserializer.Deserialize<InventoryFile?>(text);
        }
        catch (YamlException ex)
        {
            throw new RgtException("InventoryMalformed", FailureKind.InvalidData,
                $"The inventory {FilePath} is not valid YAML at line {ex.Start.Line}, column {ex.Start.Column}: {Innermost(ex).Message} Fix or move the file; it will not be overwritten until it parses.", ex);
        }
        var hosts = new List<GpuHost>();
        foreach (var e in doc?.Hosts ?? new List<HostEntry>())
        {
            if (string.IsNullOrWhiteSpace(e.Name) || string.IsNullOrWhiteSpace(e.HostName))
                throw new RgtException("InventoryMalformed", FailureKind.InvalidData,
                    $"The inventory {FilePath} has a host without name or hostName. Fix or move the file; it will not be overwritten until it is valid.");
            hosts.Add(e.ToHost());
        }
        return hosts;
    }

    static Exception Innermost(Exception ex)
    {
        while (ex.InnerException is not null) ex = ex.InnerException;
        return ex;
    }

    static string Serialize(List<GpuHost> hosts) =>
        "# RemoteGpuTrainer inventory: written by New-GpuRental / Set-GpuHost. Edits by hand are fine while no command runs.\n" +
        Serializer.Serialize(new InventoryFile { Hosts = hosts.Select(HostEntry.From).ToList() });

    static readonly IDeserializer Deserializer = new DeserializerBuilder()
        .WithNamingConvention(CamelCaseNamingConvention.Instance)
        .IgnoreUnmatchedProperties()
        .Build();

    static readonly ISerializer Serializer = new SerializerBuilder()
        .WithNamingConvention(CamelCaseNamingConvention.Instance)
        .ConfigureDefaultValuesHandling(DefaultValuesHandling.OmitNull)
        .Build();

    sealed class InventoryFile
    {
        public List<HostEntry>? Hosts { get; set; }
    }

    sealed class HostEntry
    {
        public string? Name { get; set; }
        public string? HostName { get; set; }
        public int? Port { get; set; }
        public string? User { get; set; }
        public string? IdentityFile { get; set; }
        public string? Platform { get; set; }
        public string? Region { get; set; }
        public List<string>? Tags { get; set; }
        public string? DataDir { get; set; }
        public string? DurableDir { get; set; }
        public string? ProxyHook { get; set; }
        public string? ProxyJump { get; set; }
        public string? CredFile { get; set; }
        public string? Python { get; set; }
        public string? Provider { get; set; }
        public string? RentalId { get; set; }
        public decimal? HourlyPrice { get; set; }
        public string? Currency { get; set; }
        public List<string>? GpuDevicePath { get; set; }
        public string? CreatedAt { get; set; }
        public string? Notes { get; set; }
        public TemplateEntry? RentalTemplate { get; set; }

        public GpuHost ToHost() => new()
        {
            Name = Name!, HostName = HostName!, Port = Port, User = User, IdentityFile = IdentityFile,
            Platform = string.IsNullOrEmpty(Platform) ? "generic-ssh" : Platform, Region = Region,
            Tags = Tags?.ToArray() ?? Array.Empty<string>(), DataDir = DataDir, DurableDir = DurableDir,
            ProxyHook = ProxyHook, ProxyJump = ProxyJump, CredFile = CredFile, Python = Python, Provider = Provider, RentalId = RentalId,
            HourlyPrice = HourlyPrice, Currency = Currency, GpuDevicePath = GpuDevicePath?.ToArray(),
            CreatedAt = DateTimeOffset.TryParse(CreatedAt, CultureInfo.InvariantCulture, DateTimeStyles.None, out var t) ? t : default,
            Notes = Notes, RentalTemplate = RentalTemplate?.ToTemplate(),
        };

        public static HostEntry From(GpuHost h) => new()
        {
            Name = h.Name, HostName = h.HostName, Port = h.Port, User = h.User, IdentityFile = h.IdentityFile,
            Platform = h.Platform, Region = h.Region, Tags = h.Tags.Count == 0 ? null : h.Tags.ToList(),
            DataDir = h.DataDir, DurableDir = h.DurableDir, ProxyHook = h.ProxyHook, ProxyJump = h.ProxyJump, CredFile = h.CredFile,
            Python = h.Python, Provider = h.Provider, RentalId = h.RentalId, HourlyPrice = h.HourlyPrice,
            Currency = h.Currency, GpuDevicePath = h.GpuDevicePath?.ToList(),
            CreatedAt = h.CreatedAt.ToString("o", CultureInfo.InvariantCulture), Notes = h.Notes,
            RentalTemplate = h.RentalTemplate is { } t ? TemplateEntry.From(t) : null,
        };
    }

    sealed class TemplateEntry
    {
        public List<string>? Providers { get; set; }
        public string? Gpu { get; set; }
        public int GpuCount { get; set; } = 1;
        public decimal? MaxHourlyPrice { get; set; }
        public bool Interruptible { get; set; }
        public string? Region { get; set; }
        public string? Image { get; set; }
        public int DiskGB { get; set; } = 50;
        public string? User { get; set; }

        public Rentals.RentalTemplate? ToTemplate() => Providers is { Count: > 0 }
            ? new(Providers, Gpu ?? "", GpuCount, MaxHourlyPrice, Interruptible, Region, Image, DiskGB, User) : null;

        public static TemplateEntry From(Rentals.RentalTemplate t) => new()
        {
            Providers = t.Providers.ToList(), Gpu = t.Gpu, GpuCount = t.GpuCount, MaxHourlyPrice = t.MaxHourlyPrice,
            Interruptible = t.Interruptible, Region = t.Region, Image = t.Image, DiskGB = t.DiskGB, User = t.User,
        };
    }
}
