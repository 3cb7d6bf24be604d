import { buildDatanet, buildTextDatanet, type Datanet, exampleDatanetPlan, exampleTextDatanetPlan, type ImageShift } from "../datanets.js";
import { loadFortunes } from "../datasets/text-corpus.js";
import { gptConfig, recipeTokenizer } from "../models/zoo.js";

/** Datanets a spec can name. Each is rebuilt deterministically from its plan and seed. */
export interface CatalogEntry {
  modality: "image" | "text";
  description: string;
  /** The domain of the matching evaluation set (image shift). */
  shift?: ImageShift;
  /** The datanet at `scale`; text is cut into windows of the tokens of `baseModel` (the spec's GPT; fortunes-gpt when absent). */
  build(scale: number, baseModel?: string): Datanet;
}

const image = (shift: ImageShift, what: string): CatalogEntry => ({
  modality: "image",
  shift,
  description: `Fashion-MNIST training images 30000..59999, ${what}; six contributors: iid, Dirichlet non-iid, footwear-only, iid, a duplicator, a label-flipper`,
  build: (scale) => buildDatanet(exampleDatanetPlan(`fmnist-${shift}`, { shift, scale })),
});

export const DATANET_CATALOG: Record<string, CatalogEntry> = {
  "fmnist-translate": image("translate", "shifted 4 px right and 3 px down (an off-centre camera)"),
  "fmnist-low-contrast": image("low-contrast", "at a quarter of the contrast on a grey floor (dim light)"),
  "fmnist-invert": image("invert", "with inverted intensities (light garments on dark cloth)"),
  "fortunes-literature": {
    modality: "text",
    description: "the literature file of fortunes-min (quotations about books and writers), four contributors: iid, Shakespeare/Twain-only, a duplicator, a garbler",
    build: (scale, baseModel = "fortunes-gpt") => {
      const tokenizer = recipeTokenizer(baseModel);
      return buildTextDatanet(exampleTextDatanetPlan("fortunes-literature", { scale, blockSize: gptConfig(baseModel).blockSize }), loadFortunes(), (s) => tokenizer.encode(s));
    },
  },
};
