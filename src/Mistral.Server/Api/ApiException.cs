namespace Mistral.Server.Api;

/// <summary>Carries an <see cref="ApiError"/> out of request checking to the endpoint, which writes it.</summary>
internal sealed class ApiException(ApiError error) : Exception(error.Message)
{
    public ApiError Error { get; } = error;
}
