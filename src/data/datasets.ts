/**
 * torchvision-style MNIST and Fashion-MNIST datasets over the IDX files (gzipped or not).
 *
 *   const train = new FashionMNIST({ train: true });
 *   const [image, label] = train.getItem(0);   // float32 [1, 28, 28] in [0, 1], int64 0-d
 *   train.data;     // uint8 [60000, 28, 28], the whole split (as torchvision)
 *   train.targets;  // int64 [60000]
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Tensor } from '../tensor.js';
import { fromBuffer } from '../ops/index.js';
import { TorchError, IndexError } from '../errors.js';
import { readIdxFile, IDX_IMAGES_MAGIC, IDX_LABELS_MAGIC } from '../io/idx.js';

export interface MNISTOptions {
  /** Directory holding the IDX files; default `$TORCHLET_DATA`, else the dataset's Debian directory. */
  root?: string;
  /** The training split (default) or the test split. */
  train?: boolean;
  /** Applied to each image tensor by getItem. */
  transform?: (image: Tensor) => Tensor;
  /** Applied to each label tensor by getItem. */
  targetTransform?: (label: Tensor) => Tensor;
}

interface DatasetSpec {
  /** Class name, used in errors and as torchvision's folder name (`root/<name>/raw`). */
  name: string;
  /** Folder name under $TORCHLET_DATA. */
  slug: string;
  defaultRoot: string;
  /** How to get the files, for the missing-file error. */
  install: string;
  classes: readonly string[];
}

/** The directories searched for the files, most specific first. */
function candidateDirs(spec: DatasetSpec, root: string): string[] {
  return [path.join(root, spec.name, 'raw'), path.join(root, spec.slug), root];
}

function findFile(spec: DatasetSpec, root: string, base: string): string {
  const dirs = candidateDirs(spec, root);
  for (const dir of dirs) {
    for (const name of [base, `${base}.gz`]) {
      const p = path.join(dir, name);
      if (fs.existsSync(p)) return p;
    }
  }
  throw new TorchError(spec.name,
    `cannot find ${base} or ${base}.gz in ${root} (also looked in ${dirs.slice(0, -1).join(' and ')}); ${spec.install}, or pass { root } / set TORCHLET_DATA to the directory holding the IDX files`);
}

/** The IDX images + labels pair of one split, held as whole-split tensors. */
abstract class IdxImageDataset {
  /** The directory the files were found under (as given or defaulted). */
  readonly root: string;
  readonly train: boolean;
  readonly transform?: (image: Tensor) => Tensor;
  readonly targetTransform?: (label: Tensor) => Tensor;
  /** The files read. */
  readonly imagesPath: string;
  readonly labelsPath: string;
  /** Image size (28 x 28 for the MNIST family). */
  readonly height: number;
  readonly width: number;
  private readonly pixels: Uint8Array;
  private readonly labels: Float64Array;
  private dataTensor: Tensor | null = null;
  private targetsTensor: Tensor | null = null;

  protected constructor(spec: DatasetSpec, opts: MNISTOptions = {}) {
    const op = spec.name;
    this.root = opts.root ?? process.env.TORCHLET_DATA ?? spec.defaultRoot;
    this.train = opts.train ?? true;
    this.transform = opts.transform;
    this.targetTransform = opts.targetTransform;
    const prefix = this.train ? 'train' : 't10k';
    this.imagesPath = findFile(spec, this.root, `${prefix}-images-idx3-ubyte`);
    this.labelsPath = findFile(spec, this.root, `${prefix}-labels-idx1-ubyte`);
    const images = readIdxFile(this.imagesPath, IDX_IMAGES_MAGIC);
    const labels = readIdxFile(this.labelsPath, IDX_LABELS_MAGIC);
    const [n, h, w] = images.shape;
    if (labels.shape[0] !== n)
      throw new TorchError(op, `${this.imagesPath} has ${n} images but ${this.labelsPath} has ${labels.shape[0]} labels`);
    this.height = h;
    this.width = w;
    this.pixels = images.data as Uint8Array;
    this.labels = Float64Array.from(labels.data as Uint8Array);
    for (let i = 0; i < n; i++) {
      if (this.labels[i] >= spec.classes.length)
        throw new TorchError(op, `${this.labelsPath}: label ${this.labels[i]} at index ${i} is not a class (0..${spec.classes.length - 1}); the file is corrupt`);
    }
  }

  get length(): number { return this.labels.length; }

  /** All images of the split: uint8 [N, H, W] (as torchvision's `data`). */
  get data(): Tensor {
    return (this.dataTensor ??= fromBuffer(this.pixels, [this.length, this.height, this.width], { dtype: 'uint8' }));
  }

  /** All labels of the split: int64 [N] (as torchvision's `targets`). */
  get targets(): Tensor {
    return (this.targetsTensor ??= fromBuffer(this.labels, [this.length], { dtype: 'int64' }));
  }

  /** The label of item i as a number (no tensor made). */
  label(i: number): number { return this.labels[this.checkIndex(i)]; }

  /** `[image, label]`: image float32 [1, H, W] scaled to [0, 1], label a 0-d int64 tensor. */
  getItem(i: number): [Tensor, Tensor] {
    const k = this.checkIndex(i);
    const size = this.height * this.width;
    const img = new Float32Array(size);
    const px = this.pixels;
    for (let j = 0, o = k * size; j < size; j++) img[j] = px[o + j] / 255;
    let image = fromBuffer(img, [1, this.height, this.width], { dtype: 'float32' });
    let label = fromBuffer(Float64Array.of(this.labels[k]), [], { dtype: 'int64' });
    if (this.transform) image = this.transform(image);
    if (this.targetTransform) label = this.targetTransform(label);
    return [image, label];
  }

  private checkIndex(i: number): number {
    const n = this.length;
    if (!Number.isInteger(i) || i < -n || i >= n)
      throw new IndexError(`${this.constructor.name}.getItem`, `index ${i} is out of range for a dataset of ${n} items`);
    return i < 0 ? i + n : i;
  }
}

const FASHION: DatasetSpec = {
  name: 'FashionMNIST',
  slug: 'fashion-mnist',
  defaultRoot: '/usr/share/datasets/fashion-mnist',
  install: 'install Debian\'s package dataset-fashion-mnist (apt-get install dataset-fashion-mnist), which puts the files in /usr/share/datasets/fashion-mnist',
  classes: ['T-shirt/top', 'Trouser', 'Pullover', 'Dress', 'Coat', 'Sandal', 'Shirt', 'Sneaker', 'Bag', 'Ankle boot'],
};

const DIGITS: DatasetSpec = {
  name: 'MNIST',
  slug: 'mnist',
  defaultRoot: '/usr/share/datasets/mnist',
  install: 'put the four MNIST IDX files (train-images-idx3-ubyte.gz, train-labels-idx1-ubyte.gz, t10k-images-idx3-ubyte.gz, t10k-labels-idx1-ubyte.gz) there (Debian ships Fashion-MNIST as dataset-fashion-mnist, not MNIST)',
  classes: ['0 - zero', '1 - one', '2 - two', '3 - three', '4 - four', '5 - five', '6 - six', '7 - seven', '8 - eight', '9 - nine'],
};

/** Fashion-MNIST (Zalando): 60000 training and 10000 test 28x28 grey images of 10 kinds of clothing. */
export class FashionMNIST extends IdxImageDataset {
  static readonly classes = FASHION.classes;
  readonly classes = FASHION.classes;
  constructor(opts: MNISTOptions = {}) { super(FASHION, opts); }
}

/** MNIST handwritten digits: 60000 training and 10000 test 28x28 grey images. */
export class MNIST extends IdxImageDataset {
  static readonly classes = DIGITS.classes;
  readonly classes = DIGITS.classes;
  constructor(opts: MNISTOptions = {}) { super(DIGITS, opts); }
}
