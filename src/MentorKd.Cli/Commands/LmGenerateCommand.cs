using System.CommandLine;
using MentorKd.Modeling.Checkpoints;
using MentorKd.Modeling.Generation;

namespace MentorKd.Cli.Commands;

/// <summary><c>mentorkd lm generate</c>: continue prompts with a saved model.</summary>
internal static class LmGenerateCommand
{
    public static Command Create()
    {
        var model = new Option<string>("--model") { Description = "Model folder (config.json, model.safetensors, tokenizer).", Required = true };
        var prompts = new Option<string[]>("--prompt") { Description = "Prompt text; repeat for a batch.", Required = true, AllowMultipleArgumentsPerToken = false };
        var maxNew = new Option<int>("--max-new-tokens") { Description = "Token budget per sample.", DefaultValueFactory = _ => 200 };
        var temperature = new Option<double>("--temperature") { Description = "0 = greedy.", DefaultValueFactory = _ => 0.0 };
        var topK = new Option<int>("--top-k") { Description = "Sample from the k most likely tokens (0 = all).", DefaultValueFactory = _ => 0 };
        var topP = new Option<double>("--top-p") { Description = "Nucleus sampling threshold.", DefaultValueFactory = _ => 1.0 };
        var samples = new Option<int>("--samples") { Description = "Samples per prompt.", DefaultValueFactory = _ => 1 };
        var seed = new Option<long?>("--seed") { Description = "Seed for reproducible sampling." };
        var noCache = new Option<bool>("--no-cache") { Description = "Recompute the whole sequence every step (slow; for checking)." };

        var command = new Command("generate", "Generate text from a model folder.") { model, prompts, maxNew, temperature, topK, topP, samples, seed, noCache };
        RuntimeOptions.AddTo(command);
        command.SetAction(result => RuntimeOptions.Guarded(() =>
        {
            var device = RuntimeOptions.Apply(result);
            var (lm, tokenizer) = ModelCheckpoints.Load(result.GetValue(model)!, device);
            using var _ = lm;
            var options = new GenerationOptions
            {
                MaxNewTokens = result.GetValue(maxNew),
                Temperature = result.GetValue(temperature),
                TopK = result.GetValue(topK),
                TopP = result.GetValue(topP),
                SamplesPerPrompt = result.GetValue(samples),
                Seed = result.GetValue(seed),
                UseCache = !result.GetValue(noCache),
            };
            var texts = result.GetValue(prompts)!;
            var outputs = new TextGenerator(lm, tokenizer).Generate(texts, options);
            for (int p = 0; p < texts.Length; p++)
                foreach (var sample in outputs[p])
                    Console.WriteLine(texts[p] + sample);
            return 0;
        }));
        return command;
    }
}
