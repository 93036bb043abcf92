using RemoteGpuTrainer.Engine.Hosts;
using RemoteGpuTrainer.Engine.Rentals;
using RemoteGpuTrainer.Engine.Model;
using RemoteGpuTrainer.Engine.Platforms;
using RemoteGpuTrainer.Engine.Providers;
using RemoteGpuTrainer.Engine.Ssh;
using Xunit;

namespace RemoteGpuTrainer.Engine.Tests;

public class CloudCatalogTests
{
    static readonly PlatformCatalog Catalog = PlatformCatalog.Load(TestFiles.PlatformsDir);

    [Fact]
    public void Paperspace_offers_come_from_a_stamped_price_table_because_its_API_has_no_prices()
    {
        var p = Catalog.Get("paperspace");
        Assert.Contains(p.PriceTable, m => m is { MachineType: "H100", Gpu: "H100", GpuCount: 1, HourlyPrice: 3.09m });
        Assert.Contains(p.PriceTable, m => m is { MachineType: "H100x8", GpuCount: 8, HourlyPrice: 24.72m });
        Assert.DoesNotContain(p.PriceTable, m => m.MachineType.StartsWith("A100", StringComparison.Ordinal));
        Assert.Equal(new[] { "ny2", "ca1", "ams1" }, p.Regions);
        Assert.Equal("2026-09", p.Verified["price_table"]);
        Assert.Equal("paperspace", p.SshUser);
        Assert.Null(p.DefaultImage);
        Assert.StartsWith("runpod/pytorch:", Catalog.Get("runpod").DefaultImage);
    }

    [Fact]
    public void A_price_table_entry_without_a_price_is_refused_when_the_profile_loads()
    {
        var dir = Directory.CreateTempSubdirectory().FullName;
        try
        {
            File.WriteAllText(Path.Combine(dir, "paperspace.yml"), "rgt:\n  name: paperspace\n  price_table:\n    - {machine_type: H100, gpu: H100, gpus: 1}\n");
            var ex = Assert.Throws<RgtException>(() => PlatformCatalog.Load(TestFiles.PlatformsDir, dir));
            Assert.Equal("PlatformProfileMalformed", ex.ErrorId);
            Assert.Contains("usd_per_hour", ex.Message);
        }
        finally { Directory.Delete(dir, true); }
    }

    [Fact]
    public void Every_provider_of_the_table_is_a_platform_makes_its_API_and_names_its_key_and_console()
    {
        Assert.Equal(4, CloudProviders.Table.Count);
        foreach (var p in CloudProviders.Table)
        {
            Assert.NotNull(Catalog.Find(p.Name));
            using var api = CloudProviders.Create(p.Name, new ProviderHttp(p.Name, "not-a-key"), new Uri("http://127.0.0.1:9/"), Catalog);
            Assert.Equal(p.Name, api.Name);
            Assert.Equal(p.CanStop, api.CanStop);
            Assert.Equal(p.KeyVariable, ApiKeys.EnvironmentVariable(p.Name));
            Assert.StartsWith("https://", CloudProviders.Console(p.Name));
            Assert.True(CloudProviders.Manages(new GpuHost { Name = "h", HostName = "x", Provider = p.Name, RentalId = "1" }));
        }
        Assert.False(CloudProviders.Manages(new GpuHost { Name = "h", HostName = "x", Provider = "autodl", RentalId = "1" }));
        Assert.Equal("ProviderUnsupported", Assert.Throws<RgtException>(() => CloudProviders.BaseUrl("nosuchcloud", _ => null)).ErrorId);
    }

    [Fact]
    public void A_moved_rental_keeps_its_pinned_key_and_a_missing_pin_fails_closed()
    {
        var dir = Directory.CreateTempSubdirectory().FullName;
        try
        {
            var known = new KnownHosts(new[] { Path.Combine(dir, "known_hosts") });
            var key = new byte[] { 0, 0, 0, 11, (byte)'s', (byte)'s', (byte)'h', (byte)'-', (byte)'e', (byte)'d', (byte)'2', (byte)'5', (byte)'5', (byte)'1', (byte)'9', 1, 2, 3 };
            known.Add("203.0.113.5", 40022, key);
            RentalStart.MovePin(known, "pod", "203.0.113.5", 40022, "203.0.113.9", 41022);
            Assert.Equal(HostKeyStatus.Known, known.Check("203.0.113.9", 41022, key).Status);
            var other = (byte[])key.Clone();
            other[^1] = 9;
            Assert.Equal(HostKeyStatus.Changed, known.Check("203.0.113.9", 41022, other).Status);
            RentalStart.MovePin(known, "pod", "203.0.113.5", 40022, "203.0.113.9", 41022);
            Assert.Single(File.ReadAllLines(Path.Combine(dir, "known_hosts")), l => l.StartsWith("[203.0.113.9]:41022 ", StringComparison.Ordinal));
            // The old address is forgotten once the move is verified; other hosts' lines stay.
            known.Add("198.51.100.7", 22, key);
            Assert.Equal(1, known.Forget("203.0.113.5", 40022));
            Assert.Empty(known.KeysOf("203.0.113.5", 40022));
            Assert.Single(known.KeysOf("203.0.113.9", 41022));
            Assert.Single(known.KeysOf("198.51.100.7", 22));
            Assert.Equal(0, known.Forget("203.0.113.5", 40022));
            var ex = Assert.Throws<RgtException>(() => RentalStart.MovePin(known, "pod", "198.51.100.1", 22, "198.51.100.2", 22));
            Assert.Equal("HostKeyUnverified", ex.ErrorId);
        }
        finally { Directory.Delete(dir, true); }
    }
}

public class ProvidersToAskTests
{
    [Fact]
    public void Named_providers_are_asked_once_each_whatever_their_case()
    {
        var ask = Providers.CloudProviders.ToAsk(new[] { "RunPod", "runpod", "vastai" }, () => throw new InvalidOperationException("not consulted"), false, ".");
        Assert.Equal(new[] { "runpod", "vastai" }, ask);
    }

    [Fact]
    public void With_none_named_and_none_to_ask_the_error_names_every_key_variable_of_the_table()
    {
        var ex = Assert.Throws<RgtException>(() => Providers.CloudProviders.ToAsk(null, () => Array.Empty<string>(), false, ". Name one with -Provider."));
        Assert.Equal("ProviderKeyMissing", ex.ErrorId);
        foreach (var p in Providers.CloudProviders.Table) Assert.Contains(p.KeyVariable, ex.Message);
        Assert.EndsWith("Name one with -Provider.", ex.Message);
    }

    [Fact]
    public void An_api_key_belongs_to_exactly_one_provider()
    {
        Assert.Equal("ApiKeyAmbiguous", Assert.Throws<RgtException>(() => Providers.CloudProviders.ToAsk(new[] { "runpod", "lambda" }, () => Array.Empty<string>(), true, ".")).ErrorId);
        Assert.Equal(new[] { "lambda" }, Providers.CloudProviders.ToAsk(null, () => new[] { "lambda" }, true, "."));
    }
}
