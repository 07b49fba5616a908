using Microsoft.AspNetCore.Http;

namespace Mistral.Server.Api;

/// <summary>
/// A refused request: the HTTP status and what Mistral's API puts in its error body (a message, a type, the request
/// field at fault, and an optional code).
/// </summary>
internal sealed record ApiError(int Status, string Message, string Type, string? Param = null, string? Code = null)
{
    /// <summary>Seconds a 429 tells the client to wait (the Retry-After header); null for other errors.</summary>
    public int? RetryAfterSeconds { get; init; }

    public static ApiError InvalidField(string param, string message) =>
        new(StatusCodes.Status400BadRequest, message, "invalid_request_error", param);

    public static ApiError Unauthorized(string message) =>
        new(StatusCodes.Status401Unauthorized, message, "authentication_error", Code: "invalid_api_key");

    public static ApiError TooLarge(long limit) =>
        new(StatusCodes.Status413PayloadTooLarge,
            $"The request body is larger than the server's limit of {limit} bytes (MaxRequestBodyBytes).",
            "invalid_request_error", Code: "request_too_large");

    public static ApiError Busy(string message, int retryAfterSeconds) =>
        new(StatusCodes.Status429TooManyRequests, message, "rate_limit_error", Code: "queue_full") { RetryAfterSeconds = retryAfterSeconds };

    public static ApiError Internal(string message) =>
        new(StatusCodes.Status500InternalServerError, message, "server_error");
}
