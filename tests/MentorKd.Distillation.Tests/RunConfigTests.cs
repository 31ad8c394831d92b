using MentorKd.Distillation.Pipeline;
using MentorKd.Distillation.Training;

namespace MentorKd.Distillation.Tests;

public class RunConfigTests
{
    private const string Valid = """
        { "name": "t", "task": { "name": "coin_flip", "source": "synthetic", "train_questions": 10, "dev_questions": 5, "test_questions": 5 } }
        """;

    [Fact]
    public void A_minimal_config_is_valid() => RunConfigValidator.Validate(RunConfig.Parse(Valid, "."));

    [Theory]
    [InlineData("reverse_kl", KnowledgeDistillationMode.ReverseKl)]
    [InlineData("jsd", KnowledgeDistillationMode.Jsd)]
    public void Reverse_kl_and_jsd_serve_every_soft_label_source(string mode, KnowledgeDistillationMode parsed)
    {
        foreach (var source in new[] { "in_process", "mentor_server", "stored" })
        {
            var config = RunConfig.Parse($$"""{ "name": "t", "student": { "soft_labels": "{{source}}", "training": { "kd_mode": "{{mode}}", "jsd_beta": 0.3 } } }""", ".");
            RunConfigValidator.Validate(config);
            Assert.Equal((parsed, 0.3), (config.Student.Training.KdMode, config.Student.Training.JsdBeta));
        }
    }

    [Theory]
    [InlineData("\"task\": { \"name\": \"chess\" }", "task.name")]
    [InlineData("\"student\": { \"training\": { \"lambda\": 1.5 } }", "student.training.lambda")]
    [InlineData("\"mentor\": { \"training\": { \"lambda\": -0.1 } }", "mentor.training.lambda")]
    [InlineData("\"task\": { \"name\": \"coin_flip\", \"train_questions\": -5 }", "task.train_questions")]
    [InlineData("\"teacher\": { \"rationales_per_question\": 0 }", "teacher.rationales_per_question")]
    [InlineData("\"augmentation\": { \"samples_per_question\": -1 }", "augmentation.samples_per_question")]
    [InlineData("\"teacher\": { \"kind\": \"replay\", \"file\": \"missing.json\" }", "teacher.file")]
    [InlineData("\"task\": { \"name\": \"gsm8k\", \"source\": \"files\", \"files\": { \"train_questions\": \"nope.json\", \"test\": \"nope.json\" } }", "task.files.train_questions")]
    [InlineData("\"student\": { \"heads\": 3, \"embedding\": 64 }", "student.embedding")]
    [InlineData("\"arms\": [\"mentor_kd\", \"magic\"]", "arms")]
    [InlineData("\"task\": { \"name\": \"gsm8k\" }", "task.name")]
    [InlineData("\"student\": { \"soft_labels\": \"mentor_server\", \"training\": { \"kd_mode\": \"mse\" } }", "student.training.kd_mode")]
    [InlineData("\"student\": { \"soft_labels\": \"mentor_server\", \"training\": { \"kd_mode\": \"ce\" } }", "student.training.kd_mode")]
    [InlineData("\"student\": { \"soft_labels\": \"stored\", \"training\": { \"kd_mode\": \"mse\" } }", "student.training.kd_mode")]
    [InlineData("\"student\": { \"soft_labels\": \"stored\", \"training\": { \"kd_mode\": \"kl\", \"kd_mask\": \"faithful\" } }", "student.training.kd_mask")]
    [InlineData("\"student\": { \"soft_label_top_k\": 0 }", "student.soft_label_top_k")]
    [InlineData("\"student\": { \"training\": { \"kd_mode\": \"jsd\", \"jsd_beta\": 1 } }", "student.training.jsd_beta")]
    [InlineData("\"teacher\": { \"kind\": \"gpt\" }", "teacher.kind")]
    [InlineData("\"teacher\": { \"kind\": \"openai\" }", "teacher.name")]
    [InlineData("\"teacher\": { \"kind\": \"openai\", \"name\": \"a b\" }", "teacher.name")]
    [InlineData("\"teacher\": { \"kind\": \"openai\", \"name\": \"x\", \"base_url\": \"not a url\", \"model\": \"m\" }", "teacher.base_url")]
    [InlineData("\"teacher\": { \"kind\": \"openai\", \"name\": \"x\", \"base_url\": \"http://localhost:8000/v1\" }", "teacher.model")]
    [InlineData("\"teacher\": { \"kind\": \"openai\", \"name\": \"x\", \"base_url\": \"http://localhost:8000/v1\", \"model\": \"m\", \"temperature\": 3 }", "teacher.temperature")]
    [InlineData("\"teacher\": { \"kind\": \"openai\", \"name\": \"x\", \"base_url\": \"http://localhost:8000/v1\", \"model\": \"m\", \"api\": \"responses\" }", "teacher.api")]
    [InlineData("\"method\": \"fdd_only\"", "method")]
    [InlineData("\"method\": \"mentor_kd+fdd\", \"fdd\": { \"rounds\": 0 }", "fdd.rounds")]
    [InlineData("\"method\": \"mentor_kd+fdd\", \"fdd\": { \"harder_per_easy\": -1 }", "fdd.harder_per_easy")]
    [InlineData("\"method\": \"mentor_kd+fdd\", \"fdd\": { \"similar_per_hard\": -2 }", "fdd.similar_per_hard")]
    [InlineData("\"method\": \"mentor_kd+fdd\", \"fdd\": { \"pool\": \"everything\" }", "fdd.pool")]
    [InlineData("\"method\": \"mentor_kd+fdd\", \"fdd\": { \"teacher_call_budget\": 0 }", "fdd.teacher_call_budget")]
    [InlineData("\"method\": \"mentor_kd+fdd\", \"fdd\": { \"patience\": 0 }", "fdd.patience")]
    [InlineData("\"method\": \"mentor_kd+fdd\", \"fdd\": { \"pool_sample\": 0 }", "fdd.pool_sample")]
    [InlineData("\"method\": \"mentor_kd+fdd\", \"fdd\": { \"classify_samples\": 1 }", "fdd.classify_samples")]
    [InlineData("\"method\": \"mentor_kd+fdd\", \"fdd\": { \"classify_samples\": 4, \"classify_temperature\": 0 }", "fdd.classify_temperature")]
    [InlineData("\"method\": \"mentor_kd+fdd\", \"fdd\": { \"easy_threshold\": 1.5 }", "fdd.easy_threshold")]
    [InlineData("\"method\": \"mentor_kd+fdd\", \"fdd\": { \"retrain\": \"warm\" }", "fdd.retrain")]
    [InlineData("\"method\": \"mentor_kd+fdd\", \"arms\": [\"fine_tune_cot\"]", "arms")]
    [InlineData("\"task\": { \"name\": \"arithmetic\", \"difficulty_range\": [2, 9] }", "task.difficulty_range")]
    [InlineData("\"task\": { \"name\": \"arithmetic\", \"difficulty_range\": [5, 3] }", "task.difficulty_range")]
    [InlineData("\"task\": { \"name\": \"arithmetic\", \"difficulty\": 3, \"difficulty_range\": [2, 6] }", "task.difficulty_range")]
    [InlineData("\"frozen_dtype\": \"float16\"", "frozen_dtype")]
    [InlineData("\"student\": { \"training\": { \"matmul_dtype\": \"float16\" } }", "student.training.matmul_dtype")]
    [InlineData("\"mentor\": { \"training\": { \"matmul_dtype\": \"int8\" } }", "mentor.training.matmul_dtype")]
    [InlineData("\"tokenizer\": \"bpe\"", "tokenizer")]
    [InlineData("\"student\": { \"pretrained\": \"../no-such-model\" }", "student.pretrained")]
    public void Bad_values_are_rejected_naming_the_field(string fragment, string field)
    {
        var config = RunConfig.Parse("{ " + fragment + " }", Path.GetTempPath());
        var error = Assert.Throws<ConfigException>(() => RunConfigValidator.Validate(config));
        Assert.Equal(field, error.Field);
        Assert.Contains(field, error.Message);
    }

    [Fact]
    public void What_a_run_may_ask_for_is_bounded_by_the_platforms_limits_and_a_config_of_just_a_name_runs_on_defaults()
    {
        void Refused(string json, string field, string limit, RunLimits? limits = null)
        {
            var error = Assert.Throws<ConfigException>(() => RunConfigValidator.Validate(RunConfig.Parse(json, "."), limits));
            Assert.Equal(field, error.Field);
            Assert.Contains($"(Limits:{limit})", error.Message);
        }
        Refused("""{ "student": { "training": { "epochs": 1000000000, "kd_mode": "kl" } } }""", "student.training.epochs", "MaxEpochs");
        Refused("""{ "task": { "train_questions": 10000 }, "mentor": { "training": { "epochs": 900, "batch_size": 1 } } }""", "mentor.training.epochs", "MaxTrainingSteps");
        Refused("""{ "augmentation": { "samples_per_question": 500 } }""", "augmentation.samples_per_question", "MaxSamplesPerQuestion");
        Refused("""{ "mentor": { "layers": 48, "heads": 64, "embedding": 8192 } }""", "mentor.layers", "MaxModelParameters");
        Refused("""{ "task": { "name": "coin_flip", "train_questions": 500 } }""", "task.train_questions", "MaxQuestions", new RunLimits { MaxQuestions = 600 });
        Refused($"{{ \"name\": \"{new string('x', 101)}\" }}", "name", "MaxNameLength");

        // Host files and folders only under the data roots, checked before the filesystem is (nothing said of what lies outside).
        var roots = new RunLimits { DataRoots = [Path.Combine(Path.GetTempPath(), "mentorkd-data-root")] };
        var file = Path.Combine(roots.DataRoots[0], "train.json");
        Directory.CreateDirectory(roots.DataRoots[0]);
        File.WriteAllText(file, "[]");
        Refused("""{ "task": { "name": "gsm8k", "source": "files", "files": { "train_questions": "/etc/passwd", "test": "/etc/passwd" } } }""",
            "task.files.train_questions", "DataRoots", roots);
        Refused($$"""{ "task": { "name": "gsm8k", "source": "files", "files": { "train_questions": "{{file}}", "test": "/etc/hostname" } } }""",
            "task.files.test", "DataRoots", roots);
        Refused("""{ "teacher": { "kind": "replay", "file": "/etc/passwd" } }""", "teacher.file", "DataRoots", roots);
        // A link under a root that leads out of it is out.
        var link = Path.Combine(roots.DataRoots[0], $"leak-{Guid.NewGuid():N}.json");
        File.CreateSymbolicLink(link, "/etc/passwd");
        Refused($$"""{ "teacher": { "kind": "replay", "file": "{{link}}" } }""", "teacher.file", "DataRoots", roots);
        Refused("""{ "student": { "pretrained": "/usr/lib" } }""", "student.pretrained", "DataRoots", roots);
        // Outside the roots an existing folder is not looked at: a relative name is an object-store key.
        var keyed = RunConfig.Parse("""{ "student": { "pretrained": "lib" } }""", "/usr");
        RunConfigValidator.Validate(keyed, roots);
        Assert.Equal("lib", keyed.WithAbsolutePaths(roots.DataRoots).Student.Pretrained);
        Assert.Equal("/usr/lib", keyed.WithAbsolutePaths().Student.Pretrained);

        // A config holding only a name completes with defaults: its student distils with the KL term.
        var minimal = RunConfig.Parse("""{ "name": "just-a-name" }""", ".");
        RunConfigValidator.Validate(minimal);
        Assert.Equal(KnowledgeDistillationMode.Kl, minimal.Student.Training.KdMode);
    }

    [Fact]
    public void An_openai_teacher_is_named_and_an_embedded_run_may_define_it_inline()
    {
        var named = RunConfig.Parse("""{ "teacher": { "kind": "openai", "name": "gpt-4o-mini" } }""", ".");
        RunConfigValidator.Validate(named);
        Assert.False(named.Teacher.DefinesLlmTeacher);
        Assert.Equal("gpt-4o-mini", named.Teacher.GatewayTeacher);

        var inline = RunConfig.Parse("""
            { "teacher": { "kind": "openai", "name": "local", "base_url": "http://localhost:11434/v1", "model": "qwen2.5:7b",
                           "api_key_env": "OLLAMA_KEY", "prompt": "zero-shot-cot", "max_concurrent_calls": 2, "prompt_price_per_million_tokens": 0.15 } }
            """, ".");
        RunConfigValidator.Validate(inline);
        Assert.True(inline.Teacher.DefinesLlmTeacher);
        Assert.Equal(2, inline.Teacher.MaxConcurrentCalls);
        Assert.Equal(0.15 * 2, inline.Teacher.CostOf(2_000_000, 0), 9);
        Assert.Equal("", RunConfig.Parse(Valid, ".").Teacher.GatewayTeacher); // offline teachers: the gateway's default
    }

    [Fact]
    public void Unknown_keys_and_bad_types_fail_at_parse_time_with_their_path()
    {
        var unknown = Assert.Throws<ConfigException>(() => RunConfig.Parse("{ \"student\": { \"layerz\": 3 } }", "."));
        Assert.Contains("layerz", unknown.Message);
        var badType = Assert.Throws<ConfigException>(() => RunConfig.Parse("{ \"student\": { \"layers\": \"three\" } }", "."));
        Assert.Equal("student.layers", badType.Field);
    }

    [Fact]
    public void The_default_config_in_the_repository_is_valid()
    {
        var repo = Directory.GetParent(AppContext.BaseDirectory)!;
        while (!File.Exists(Path.Combine(repo.FullName, "MentorKd.Platform.sln"))) repo = repo.Parent!;
        var configs = Directory.GetFiles(Path.Combine(repo.FullName, "configs"), "*.json");
        Assert.NotEmpty(configs);
        foreach (var file in configs.Where(f => !f.Contains("shared"))) RunConfigValidator.Validate(RunConfig.Load(file));
    }
}
