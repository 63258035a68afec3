// Known timm MobileNetV3 checkpoints: the same list as weights/models.json (a test keeps them equal).
// Default URLs are timm's Hugging Face repos; self-hosters pass `weights` and `config` instead.

export const DEFAULT_MODEL = "mobilenetv3_large_100";

export const MODEL_LIST = [
  {
    "name": "mobilenetv3_large_100",
    "architecture": "mobilenetv3_large_100",
    "tag": "ra_in1k",
    "revision": "96f46a1c52932f27492dff66c72378eb99b443a7",
    "weightsUrl": "https://huggingface.co/timm/mobilenetv3_large_100.ra_in1k/resolve/96f46a1c52932f27492dff66c72378eb99b443a7/model.safetensors",
    "configUrl": "https://huggingface.co/timm/mobilenetv3_large_100.ra_in1k/resolve/96f46a1c52932f27492dff66c72378eb99b443a7/config.json",
    "weightsBytes": 22058321,
    "weightsSha256": "f425af34cc1cead2b5d6211f789a1f30b94835dc32f9c0fcc5a916e4fd2dde85",
    "bytes": 22100000,
    "license": "apache-2.0",
    "inputSize": 224,
    "top1": 75.784,
    "top5": 92.528
  },
  {
    "name": "mobilenetv3_large_100.ra4_e3600_r224_in1k",
    "architecture": "mobilenetv3_large_100",
    "tag": "ra4_e3600_r224_in1k",
    "weightsUrl": "https://huggingface.co/timm/mobilenetv3_large_100.ra4_e3600_r224_in1k/resolve/main/model.safetensors",
    "configUrl": "https://huggingface.co/timm/mobilenetv3_large_100.ra4_e3600_r224_in1k/resolve/main/config.json",
    "bytes": 22100000,
    "license": "apache-2.0",
    "inputSize": 224,
    "top1": 76.31,
    "top5": 92.842
  },
  {
    "name": "mobilenetv3_large_100.miil_in21k_ft_in1k",
    "architecture": "mobilenetv3_large_100",
    "tag": "miil_in21k_ft_in1k",
    "weightsUrl": "https://huggingface.co/timm/mobilenetv3_large_100.miil_in21k_ft_in1k/resolve/main/model.safetensors",
    "configUrl": "https://huggingface.co/timm/mobilenetv3_large_100.miil_in21k_ft_in1k/resolve/main/config.json",
    "bytes": 22100000,
    "license": "apache-2.0",
    "inputSize": 224,
    "top1": 77.92,
    "top5": 92.894
  },
  {
    "name": "mobilenetv3_large_150d",
    "architecture": "mobilenetv3_large_150d",
    "tag": "ra4_e3600_r256_in1k",
    "weightsUrl": "https://huggingface.co/timm/mobilenetv3_large_150d.ra4_e3600_r256_in1k/resolve/main/model.safetensors",
    "configUrl": "https://huggingface.co/timm/mobilenetv3_large_150d.ra4_e3600_r256_in1k/resolve/main/config.json",
    "bytes": 58700000,
    "license": "apache-2.0",
    "inputSize": 256,
    "top1": 80.994,
    "top5": 95.474
  },
  {
    "name": "mobilenetv3_rw",
    "architecture": "mobilenetv3_rw",
    "tag": "rmsp_in1k",
    "weightsUrl": "https://huggingface.co/timm/mobilenetv3_rw.rmsp_in1k/resolve/main/model.safetensors",
    "configUrl": "https://huggingface.co/timm/mobilenetv3_rw.rmsp_in1k/resolve/main/config.json",
    "bytes": 22000000,
    "license": "apache-2.0",
    "inputSize": 224,
    "top1": 75.616,
    "top5": 92.696
  },
  {
    "name": "mobilenetv3_small_050",
    "architecture": "mobilenetv3_small_050",
    "tag": "lamb_in1k",
    "revision": "f58e7345afe2832abd6f81cc60f67cd1ddf7ce00",
    "weightsUrl": "https://huggingface.co/timm/mobilenetv3_small_050.lamb_in1k/resolve/f58e7345afe2832abd6f81cc60f67cd1ddf7ce00/model.safetensors",
    "configUrl": "https://huggingface.co/timm/mobilenetv3_small_050.lamb_in1k/resolve/f58e7345afe2832abd6f81cc60f67cd1ddf7ce00/config.json",
    "weightsSha256": "2e3f6937afd4b3704450518a2710168775d6c70ebfb7a0e9aaf06200c6fbe0c4",
    "bytes": 6400000,
    "license": "apache-2.0",
    "inputSize": 224,
    "top1": 57.918,
    "top5": 80.144
  },
  {
    "name": "mobilenetv3_small_075",
    "architecture": "mobilenetv3_small_075",
    "tag": "lamb_in1k",
    "weightsUrl": "https://huggingface.co/timm/mobilenetv3_small_075.lamb_in1k/resolve/main/model.safetensors",
    "configUrl": "https://huggingface.co/timm/mobilenetv3_small_075.lamb_in1k/resolve/main/config.json",
    "bytes": 8200000,
    "license": "apache-2.0",
    "inputSize": 224,
    "top1": 65.284,
    "top5": 85.462
  },
  {
    "name": "mobilenetv3_small_100",
    "architecture": "mobilenetv3_small_100",
    "tag": "lamb_in1k",
    "revision": "1824797e7887cbec1990e4adbd6675960a36c589",
    "weightsUrl": "https://huggingface.co/timm/mobilenetv3_small_100.lamb_in1k/resolve/1824797e7887cbec1990e4adbd6675960a36c589/model.safetensors",
    "configUrl": "https://huggingface.co/timm/mobilenetv3_small_100.lamb_in1k/resolve/1824797e7887cbec1990e4adbd6675960a36c589/config.json",
    "weightsBytes": 10241912,
    "weightsSha256": "46d2c063b18125884c48937afa4c49e18128869e52e8db96df48bf0a4d7ff697",
    "configSha256": "07194b4b5f5140b0d1d1b80c49b6568b726c6e2f88858340cb7618061816b6e8",
    "bytes": 10200000,
    "license": "apache-2.0",
    "inputSize": 224,
    "top1": 67.636,
    "top5": 87.638
  },
  {
    "name": "tf_mobilenetv3_large_075",
    "architecture": "tf_mobilenetv3_large_075",
    "tag": "in1k",
    "weightsUrl": "https://huggingface.co/timm/tf_mobilenetv3_large_075.in1k/resolve/main/model.safetensors",
    "configUrl": "https://huggingface.co/timm/tf_mobilenetv3_large_075.in1k/resolve/main/config.json",
    "bytes": 16100000,
    "license": "apache-2.0",
    "inputSize": 224,
    "top1": 73.442,
    "top5": 91.332
  },
  {
    "name": "tf_mobilenetv3_large_100",
    "architecture": "tf_mobilenetv3_large_100",
    "tag": "in1k",
    "weightsUrl": "https://huggingface.co/timm/tf_mobilenetv3_large_100.in1k/resolve/main/model.safetensors",
    "configUrl": "https://huggingface.co/timm/tf_mobilenetv3_large_100.in1k/resolve/main/config.json",
    "bytes": 22100000,
    "license": "apache-2.0",
    "inputSize": 224,
    "top1": 75.51,
    "top5": 92.6
  },
  {
    "name": "tf_mobilenetv3_large_minimal_100",
    "architecture": "tf_mobilenetv3_large_minimal_100",
    "tag": "in1k",
    "weightsUrl": "https://huggingface.co/timm/tf_mobilenetv3_large_minimal_100.in1k/resolve/main/model.safetensors",
    "configUrl": "https://huggingface.co/timm/tf_mobilenetv3_large_minimal_100.in1k/resolve/main/config.json",
    "bytes": 15800000,
    "license": "apache-2.0",
    "inputSize": 224,
    "top1": 72.27,
    "top5": 90.664
  },
  {
    "name": "tf_mobilenetv3_small_075",
    "architecture": "tf_mobilenetv3_small_075",
    "tag": "in1k",
    "weightsUrl": "https://huggingface.co/timm/tf_mobilenetv3_small_075.in1k/resolve/main/model.safetensors",
    "configUrl": "https://huggingface.co/timm/tf_mobilenetv3_small_075.in1k/resolve/main/config.json",
    "bytes": 8200000,
    "license": "apache-2.0",
    "inputSize": 224,
    "top1": 65.706,
    "top5": 86.13
  },
  {
    "name": "tf_mobilenetv3_small_100",
    "architecture": "tf_mobilenetv3_small_100",
    "tag": "in1k",
    "weightsUrl": "https://huggingface.co/timm/tf_mobilenetv3_small_100.in1k/resolve/main/model.safetensors",
    "configUrl": "https://huggingface.co/timm/tf_mobilenetv3_small_100.in1k/resolve/main/config.json",
    "bytes": 10200000,
    "license": "apache-2.0",
    "inputSize": 224,
    "top1": 67.922,
    "top5": 87.686
  },
  {
    "name": "tf_mobilenetv3_small_minimal_100",
    "architecture": "tf_mobilenetv3_small_minimal_100",
    "tag": "in1k",
    "weightsUrl": "https://huggingface.co/timm/tf_mobilenetv3_small_minimal_100.in1k/resolve/main/model.safetensors",
    "configUrl": "https://huggingface.co/timm/tf_mobilenetv3_small_minimal_100.in1k/resolve/main/config.json",
    "bytes": 8300000,
    "license": "apache-2.0",
    "inputSize": 224,
    "top1": 62.892,
    "top5": 84.27
  }
];
