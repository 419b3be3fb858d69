/** Applying an nftables script (`nft -f -`), as a port: the service proxy builds scripts, an adapter runs them. */
export type ApplyNft = (script: string) => Promise<void>;
