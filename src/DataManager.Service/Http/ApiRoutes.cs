namespace DataManager.Http;

/// <summary>Method sets shared by route maps.</summary>
public static class ApiRoutes
{
    /// <summary>Health and metrics: read-only, so GET and HEAD only (anything else is 405).</summary>
    public static readonly string[] GetOrHead = ["GET", "HEAD"];
}
