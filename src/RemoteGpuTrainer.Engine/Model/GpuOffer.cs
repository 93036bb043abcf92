namespace RemoteGpuTrainer.Engine.Model;

/// <summary>A machine a cloud provider offers now: GPUs, the price for all of them per hour, where, and how sure.</summary>
public sealed class GpuOffer
{
    public string Provider { get; init; } = "";
    /// <summary>The provider's handle for creating it (a vast ask id, a RunPod GPU type, a Lambda type@region).</summary>
    public string OfferId { get; init; } = "";
    public string Gpu { get; init; } = "";
    public int GpuCount { get; init; }
    public double? GpuMemoryGB { get; init; }
    /// <summary>For all GPUs of the offer, per hour (a bid offer: the minimum bid).</summary>
    public decimal HourlyPrice { get; init; }
    public string Currency { get; init; } = "USD";
    public string? Region { get; init; }
    /// <summary>Spot/bid: the provider may stop it when outbid or when capacity is needed.</summary>
    public bool Interruptible { get; init; }
    /// <summary>The provider's word for stock (High, Medium, Low) where it gives one.</summary>
    public string? Availability { get; init; }
    /// <summary>vast.ai's host reliability, 0-1, where the provider gives one.</summary>
    public double? Reliability { get; init; }

    public override string ToString() => $"{Provider}/{OfferId}: {GpuCount}x {Gpu} {HourlyPrice} {Currency}/h";
}
