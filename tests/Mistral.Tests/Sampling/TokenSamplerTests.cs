using Mistral.Sampling;

namespace Mistral.Tests.Sampling;

[TestFixture]
public class TokenSamplerTests
{
    private static float[] Logits(params float[] values) => values;

    [Test]
    public void Greedy_picks_the_largest_logit_and_the_lowest_id_on_ties()
    {
        var sampler = new TokenSampler(5, GenerationOptions.Greedy(), seed: 1);
        Assert.That(sampler.Sample(Logits(0.1f, 2f, -1f, 2f, 1.9f)), Is.EqualTo(1));
    }

    [Test]
    public void Same_seed_gives_the_same_draws_and_another_seed_differs()
    {
        var options = new GenerationOptions { Temperature = 1.5f, TopK = 0, TopP = 1, MinP = 0 };
        int[] Draws(ulong seed)
        {
            var sampler = new TokenSampler(8, options, seed);
            return Enumerable.Range(0, 64).Select(_ => sampler.Sample(Logits(1, 1, 1, 1, 1, 1, 1, 1))).ToArray();
        }
        Assert.That(Draws(7), Is.EqualTo(Draws(7)));
        Assert.That(Draws(7), Is.Not.EqualTo(Draws(8)));
    }

    [Test]
    public void Top_k_one_is_greedy_whatever_the_temperature()
    {
        var sampler = new TokenSampler(4, new GenerationOptions { Temperature = 5f, TopK = 1, TopP = 1, MinP = 0 }, seed: 3);
        for (var i = 0; i < 50; i++) Assert.That(sampler.Sample(Logits(0f, 0.5f, 0.4f, 0.49f)), Is.EqualTo(1));
    }

    [Test]
    public void Top_p_keeps_only_the_smallest_set_reaching_p()
    {
        // Probabilities ≈ 0.665, 0.245, 0.090: with top-p 0.6 only the first survives; with 0.8 the first two.
        var logits = new[] { 2f, 1f, 0f };
        var narrow = new TokenSampler(3, new GenerationOptions { Temperature = 1f, TopK = 0, TopP = 0.6f, MinP = 0 }, seed: 11);
        var wide = new TokenSampler(3, new GenerationOptions { Temperature = 1f, TopK = 0, TopP = 0.8f, MinP = 0 }, seed: 11);
        var narrowDraws = Enumerable.Range(0, 200).Select(_ => narrow.Sample((float[])logits.Clone())).ToHashSet();
        var wideDraws = Enumerable.Range(0, 200).Select(_ => wide.Sample((float[])logits.Clone())).ToHashSet();
        Assert.That(narrowDraws, Is.EquivalentTo(new[] { 0 }));
        Assert.That(wideDraws, Is.EquivalentTo(new[] { 0, 1 }));
    }

    [Test]
    public void Min_p_drops_tokens_much_less_likely_than_the_best()
    {
        // p1/p0 = e^-1 ≈ 0.37 survives min-p 0.3; p2/p0 = e^-3 ≈ 0.05 does not.
        var sampler = new TokenSampler(3, new GenerationOptions { Temperature = 1f, TopK = 0, TopP = 1, MinP = 0.3f }, seed: 5);
        var draws = Enumerable.Range(0, 300).Select(_ => sampler.Sample(Logits(3f, 2f, 0f))).ToHashSet();
        Assert.That(draws, Is.EquivalentTo(new[] { 0, 1 }));
    }

    [Test]
    public void Draw_frequencies_follow_the_softmax_at_the_temperature()
    {
        // logits (0, ln 3) at temperature 1 → p = (0.25, 0.75). 20000 draws: σ ≈ 0.003, so ±0.02 is > 6σ.
        var sampler = new TokenSampler(2, new GenerationOptions { Temperature = 1f, TopK = 0, TopP = 1, MinP = 0 }, seed: 99);
        var ones = Enumerable.Range(0, 20000).Count(_ => sampler.Sample(Logits(0f, MathF.Log(3f))) == 1);
        Assert.That(ones / 20000.0, Is.EqualTo(0.75).Within(0.02));
    }

    [Test]
    public void Repetition_penalty_divides_positive_and_multiplies_negative_logits_of_recent_tokens()
    {
        var sampler = new TokenSampler(4, new GenerationOptions { Temperature = 0, RepetitionPenalty = 2f, RepetitionLastN = 2 }, seed: 1);
        sampler.Accept(0);
        sampler.Accept(2);
        sampler.Accept(2);
        var logits = Logits(4f, 3f, -1f, 1f);
        var chosen = sampler.Sample(logits);
        Assert.That(logits, Is.EqualTo(new[] { 4f, 3f, -2f, 1f }), "token 0 left the 2-token window; token 2 is penalised once");
        Assert.That(chosen, Is.EqualTo(0));
    }

    [Test]
    public void Penalty_changes_the_greedy_choice()
    {
        var sampler = new TokenSampler(3, new GenerationOptions { Temperature = 0, RepetitionPenalty = 1.5f, RepetitionLastN = 8 }, seed: 1);
        sampler.Accept(0);
        Assert.That(sampler.Sample(Logits(3f, 2.5f, 0f)), Is.EqualTo(1));
    }
}
