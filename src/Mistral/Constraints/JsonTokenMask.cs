using Mistral.Tokenization;

namespace Mistral.Constraints;

/// <summary>Keeps generated text valid JSON (<see cref="JsonRecognizer"/>), any value or only an object at the top.</summary>
internal sealed class JsonTokenMask(MistralTokenizer tokenizer, bool rootObjectOnly)
    : TokenMask<JsonRecognizer>(tokenizer, JsonRecognizer.Start(rootObjectOnly));
