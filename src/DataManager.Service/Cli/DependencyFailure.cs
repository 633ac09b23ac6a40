using System.Data.Common;
using System.Net.Sockets;

namespace DataManager.Cli;

/// <summary>
/// Whether a failure means a dependency could not be reached (exit 3), decided by the exception's type, never
/// by its message: a refused or reset connection, a name that does not resolve, a server that does not answer.
/// </summary>
public static class DependencyFailure
{
    public static bool IsUnreachable(Exception e) => e switch
    {
        HttpRequestException { HttpRequestError: HttpRequestError.NameResolutionError or HttpRequestError.ConnectionError or HttpRequestError.SecureConnectionError or HttpRequestError.ProxyTunnelError } => true,
        SocketException or TimeoutException => true,
        DbException or MongoDB.Driver.MongoConnectionException => true,
        AggregateException aggregate => aggregate.InnerExceptions.Any(IsUnreachable),
        _ => e.InnerException is { } inner && IsUnreachable(inner),
    };
}
