using RemoteGpuTrainer.Engine.Model;
using RemoteGpuTrainer.Engine.Checkpoints;
using Xunit;

namespace RemoteGpuTrainer.Engine.Tests;

public class CheckpointTests
{
    static CheckpointVerification V(string file, TrustOptions? trust = null) =>
        CheckpointVerifier.VerifyFile(TestFiles.Fixture("checkpoints", file), trust ?? TrustOptions.None);

    // Every file of the shared checkpoint test data with the verdict its SOURCES.md expects:
    // SAFE → Safe and Verified; SAFE-but-weights_only-may-refuse and UNSAFE-for-weights_only (benign) → NeedsTrust;
    // UNSAFE → Unsafe; CORRUPT / NOT-A-CHECKPOINT → Failed with a reason.
    [Theory]
    [InlineData("zip_state_dict_tiny_mlp.pt", "SAFE")]
    [InlineData("zip_state_dict_cnn_archive_prefix.pt", "SAFE")]
    [InlineData("zip_single_tensor_picklescan_new_pytorch_model.bin", "SAFE")]
    [InlineData("zip_train_ckpt_only_model_state_dict_key.pt", "SAFE")]
    [InlineData("zip_train_ckpt_model_optimizer_iteration.pt", "SAFE")]
    [InlineData("zip_train_ckpt_epoch_state_dict_optimizer.pth", "SAFE")]
    [InlineData("zip_train_ckpt_epoch_model_state_dict_optimizer_state_dict.pth", "SAFE")]
    [InlineData("zip_state_dict_gru_float64.pt", "SAFE")]
    [InlineData("zip_cgcnn_checkpoint_state_dict_optimizer_args.pth.tar", "SAFE")]
    [InlineData("zip_lightning_0.8.5_last.ckpt", "SAFE")]
    [InlineData("zip_torchscript_adder.pt", "SAFE")]
    [InlineData("legacy_state_dict_vae_tiny.pt", "SAFE")]
    [InlineData("legacy_epoch_state_dict.tar", "SAFE")]
    [InlineData("legacy_epoch_state_dict_optimizer.pth", "SAFE")]
    [InlineData("legacy_v1_rebuild_tensor_cgcnn_pretrained.pth.tar", "SAFE")]
    [InlineData("legacy_state_dict_distilbert_picklescan_pytorch_model.bin", "SAFE")]
    [InlineData("st_tiny_mlp_with_metadata.safetensors", "SAFE")]
    [InlineData("st_all_dtypes_metadata_overall.safetensors", "SAFE")]
    [InlineData("st_header_len_128_first_byte_0x80.safetensors", "SAFE")]
    [InlineData("st_connect4_mlp.safetensors", "SAFE")]
    [InlineData("st_tinygrad_mnist.safetensors", "SAFE")]
    [InlineData("st_many_dtypes_with_metadata_fluxml.safetensors", "SAFE")]
    [InlineData("benign_pickle_v4.pkl", "SAFE-NOWEIGHTS")]
    [InlineData("zip_train_ckpt_model_state_dict_optimizer_state_dict_epoch.pth", "TRUST")]
    [InlineData("zip_train_ckpt_model_state_dict_numpy2_core.pth", "TRUST")]
    [InlineData("zip_agilerl_ppo_agent_numpy_device.pt", "TRUST")]
    [InlineData("zip_model_state_dict_plus_pickled_Adam_object.pth", "TRUST")]
    [InlineData("zip_namespace_cfg_sklearn_scaler.pt", "TRUST")]
    [InlineData("zip_chemprop_v1_args_namespace_state_dict.pt", "TRUST")]
    [InlineData("zip_chemprop_v2_hyper_parameters_class_refs.pt", "TRUST")]
    [InlineData("zip_full_pickled_module_MyAwesomeModel.pth", "TRUST")]
    [InlineData("zip_suspicious_main_class_refs.pth", "UNSAFE")]
    [InlineData("mal_zip_torch_posix_system_modelscan.pt", "UNSAFE")]
    [InlineData("mal_legacy_torch_magic_eval_bypass.pt", "UNSAFE")]
    [InlineData("mal_pickle_builtins_eval_v4.pkl", "UNSAFE")]
    [InlineData("mal_pickle_posix_system_v0.pkl", "UNSAFE")]
    [InlineData("mal_pickle_posix_system_v4.pkl", "UNSAFE")]
    [InlineData("mal_pickle_globals_compile_eval.pkl", "UNSAFE")]
    [InlineData("mal_pickle_hidden_second_pickle_requests_get.pkl", "UNSAFE")]
    [InlineData("mal_pickle_subprocess_run.pkl", "UNSAFE")]
    [InlineData("mal_pickle_INST_exec_v0.pkl", "UNSAFE")]
    [InlineData("mal_pickle_import_attrgetter_system.pkl", "UNSAFE")]
    [InlineData("mal_pickle_nested_pickle_loads.pkl", "UNSAFE")]
    [InlineData("mal_pickle_runpy_run_code.pkl", "UNSAFE")]
    [InlineData("mal_pickle_torch_inductor_compile_file.pkl", "UNSAFE")]
    [InlineData("mal_pickle_partial_torch_load.pkl", "UNSAFE")]
    [InlineData("mal_pickle_pkgutil_resolve_name.pkl", "UNSAFE")]
    [InlineData("mal_pickle_pydoc_locate_methodcaller.pkl", "UNSAFE")]
    [InlineData("mal_pickle_sys_module_override_build.pkl", "UNSAFE")]
    [InlineData("mal_pickle_memo_keyerror_os_system.pkl", "UNSAFE")]
    [InlineData("mal_pickle_type_confusion_os_system.pkl", "UNSAFE")]
    [InlineData("mal_pickle_invalid_bytes_after_os_system.pkl", "UNSAFE")]
    [InlineData("mal_pickle_asyncio_subprocess_transport.bin", "UNSAFE")]
    [InlineData("mal_pickle_types_CodeType.pkl", "UNSAFE")]
    [InlineData("mal_pickle_cloudpickle_code_injection.pkl", "UNSAFE")]
    [InlineData("mal_zip_plain_data_pkl_eval.zip", "UNSAFE")]
    [InlineData("mal_zip_encrypted_flag_bit_eval.zip", "UNSAFE")]
    [InlineData("mal_zip_central_dir_name_mismatch_eval.zip", "UNSAFE")]
    [InlineData("mal_zip_bad_crc_eval.zip", "UNSAFE")]
    [InlineData("corrupt_pickle_bad_unicode_length.pkl", "UNSAFE")]
    [InlineData("corrupt_png_named_pt.pt", "CORRUPT")]
    [InlineData("corrupt_not_a_pickle.bin", "CORRUPT")]
    [InlineData("corrupt_git_lfs_pointer_last.ckpt", "CORRUPT")]
    [InlineData("corrupt_safetensors_header_len_exceeds_file.safetensors", "CORRUPT")]
    public void Every_shared_fixture_gets_its_expected_verdict(string file, string expected)
    {
        var r = V(file);
        Assert.Equal(64, r.Sha256!.Length);
        switch (expected)
        {
            case "SAFE":
                Assert.True(r.Status == "Verified", r.Reason);
                Assert.Equal(CheckpointSafety.Safe, r.SafetyLevel);
                Assert.NotNull(r.WeightsKey);
                break;
            case "SAFE-NOWEIGHTS":
                Assert.Equal(CheckpointSafety.Safe, r.SafetyLevel);
                Assert.Equal("Failed", r.Status);
                Assert.Contains("no weights", r.Reason);
                break;
            case "TRUST":
                Assert.Equal(CheckpointSafety.NeedsTrust, r.SafetyLevel);
                Assert.Equal("Failed", r.Status);
                Assert.Contains("needs trust", r.Reason);
                Assert.Empty(r.UnsafeGlobals);
                break;
            case "UNSAFE":
                Assert.Equal(CheckpointSafety.Unsafe, r.SafetyLevel);
                Assert.Equal("Failed", r.Status);
                Assert.Contains("UNSAFE", r.Reason);
                break;
            case "CORRUPT":
                Assert.Equal("Failed", r.Status);
                Assert.NotNull(r.Reason);
                Assert.NotEqual(CheckpointSafety.Safe, r.SafetyLevel);
                break;
            default:
                Assert.Fail($"'{expected}' is no verdict this test knows: the case would check nothing.");
                break;
        }
    }

    [Fact]
    public void Trust_opt_ins_pass_ones_own_files_but_never_unsafe_ones()
    {
        Assert.Equal("Verified", V("zip_train_ckpt_model_state_dict_optimizer_state_dict_epoch.pth", new TrustOptions(Array.Empty<string>(), true)).Status);
        Assert.Equal("Verified", V("zip_train_ckpt_model_state_dict_optimizer_state_dict_epoch.pth", new TrustOptions(new[] { "numpy.*" }, false)).Status);
        Assert.Equal(CheckpointSafety.NeedsTrust, V("zip_namespace_cfg_sklearn_scaler.pt", new TrustOptions(new[] { "numpy.*" }, false)).SafetyLevel);
        Assert.Equal(CheckpointSafety.Unsafe, V("mal_zip_torch_posix_system_modelscan.pt", new TrustOptions(new[] { "*" }, true)).SafetyLevel);
    }

    [Fact]
    public void Details_format_weights_epoch_and_unsafe_globals()
    {
        var godoy = V("zip_train_ckpt_model_state_dict_optimizer_state_dict_epoch.pth", new TrustOptions(Array.Empty<string>(), true));
        Assert.Equal("TorchZip", godoy.Format);
        Assert.Equal("model_state_dict", godoy.WeightsKey);
        Assert.NotNull(godoy.Epoch);
        Assert.Equal("TorchScript", V("zip_torchscript_adder.pt").Format);
        Assert.Equal("LegacyPickle", V("legacy_epoch_state_dict.tar").Format);
        Assert.Equal("state_dict", V("legacy_epoch_state_dict.tar").WeightsKey);
        Assert.Equal("Safetensors", V("st_header_len_128_first_byte_0x80.safetensors").Format);
        Assert.Contains("posix.system", V("mal_zip_torch_posix_system_modelscan.pt").UnsafeGlobals);
        Assert.Contains("data after the pickle", V("mal_pickle_hidden_second_pickle_requests_get.pkl").Reason);
        Assert.Contains("CRC", V("mal_zip_bad_crc_eval.zip").Reason);
        Assert.Contains("Git LFS", V("corrupt_git_lfs_pointer_last.ckpt").Reason);
    }

    [Fact]
    public void A_truncated_checkpoint_fails_with_a_reason()
    {
        // Derived in the test (no truncated real file exists): the tiny MLP cut in half.
        var src = File.ReadAllBytes(TestFiles.Fixture("checkpoints", "zip_state_dict_tiny_mlp.pt"));
        var path = Path.Combine(TestFiles.TempDir(), "cut.pt");
        File.WriteAllBytes(path, src[..(src.Length / 2)]);
        var r = CheckpointVerifier.VerifyFile(path, TrustOptions.None);
        Assert.Equal("Failed", r.Status);
        Assert.Contains("truncated", r.Reason);
    }
}
